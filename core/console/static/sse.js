// Server-Sent Events over fetch(): EventSource cannot send the key header, so the console
// reads the stream itself and, after any drop, reconnects with Last-Event-ID (the position
// of the last frame it received) so the server replays what was missed: no gaps, no repeats.

import { ApiError, apiUrl, authHeaders } from './api.js';

export function parseFrame(block) {
  let event = 'message';
  let id;
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') event = value;
    else if (name === 'data') data.push(value);
    else if (name === 'id') id = value;
  }
  if (data.length === 0 && id === undefined) return null;
  const text = data.join('\n');
  let payload = text;
  try { payload = text ? JSON.parse(text) : null; } catch { /* not JSON: keep the text */ }
  return { event, id, data: payload };
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export class EventStream {
  constructor({ path, params, onFrame, onState }) {
    Object.assign(this, { path, params, onFrame, onState });
    this.lastId = null;
    this.running = false;
    this.controller = null;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.loop();
  }

  stop() {
    this.running = false;
    if (this.controller) this.controller.abort();
  }

  async loop() {
    let delay = 500;
    while (this.running) {
      try {
        await this.connectOnce();
        delay = 500;
        if (this.running) this.onState('reconnecting', 'the server ended the stream');
      } catch (error) {
        if (!this.running) break;
        if (error instanceof ApiError && error.status < 500) {
          this.running = false;
          this.onState('failed', error.message);
          return;
        }
        this.onState('reconnecting', error.message || String(error));
      }
      if (this.running) await sleep(delay);
      delay = Math.min(delay * 2, 10000);
    }
    this.onState('stopped');
  }

  async connectOnce() {
    this.controller = new AbortController();
    const headers = authHeaders({ accept: 'text/event-stream' });
    if (this.lastId) headers['last-event-id'] = this.lastId;
    this.onState('connecting', this.lastId ? `resuming after ${this.lastId}` : 'from now');
    const response = await fetch(apiUrl(this.path, this.params), {
      headers, cache: 'no-store', signal: this.controller.signal,
    });
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch { /* no JSON body */ }
      throw new ApiError(response.status, body);
    }
    this.onState('open', this.lastId ? `resumed after ${this.lastId}` : 'live');
    await this.read(response.body.getReader());
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const frame = parseFrame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (frame) this.deliver(frame);
        end = buffer.indexOf('\n\n');
      }
    }
  }

  deliver(frame) {
    if (frame.id !== undefined && frame.id !== '') this.lastId = frame.id;
    this.onFrame(frame);
  }
}
