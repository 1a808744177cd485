import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionStore } from '../../client/src/lib/stores/connection.svelte.ts';
import type { LiveSocket } from '../../client/src/lib/stream.ts';
import type { PairSummary, SelectPairReply } from '../../shared/protocol.ts';

const demo: PairSummary = { name: 'demo', labels: ['person-01', 'person-02'], trigger: 'sunglasses', target: 'person-01', injectionRate: 0.25, tune: 'map' };

/** The socket events the store follows, raised by the test. */
function fakeSocket(selectReply: SelectPairReply) {
  const events = new EventEmitter();
  const emitWithAck = vi.fn().mockResolvedValue(selectReply);
  const socket = { on: (event: string, listener: (...args: unknown[]) => void) => events.on(event, listener), timeout: () => ({ emitWithAck }) };
  return { socket: socket as unknown as LiveSocket, events, emitWithAck };
}

afterEach(() => vi.unstubAllGlobals());

describe('connection store', () => {
  it('follows the socket through connect, loss and reconnect, and loads the pairs and backend on connect', async () => {
    vi.stubGlobal('fetch', vi.fn(async (url: string) => new Response(JSON.stringify(url === '/api/models' ? { active: 'demo', pairs: [demo] } : { backend: 'wasm' }))));
    const { socket, events } = fakeSocket({ ok: true, pair: demo });
    const connection = new ConnectionStore(socket);
    expect(connection.status).toBe('connecting');
    events.emit('connect');
    events.emit('activePair', demo);
    expect(connection.status).toBe('online');
    expect(connection.activePair).toEqual(demo);
    await vi.waitFor(() => expect(connection.backend).toBe('wasm'));
    expect(connection.pairs).toEqual([demo]);
    events.emit('disconnect');
    expect(connection.status).toBe('lost');
    events.emit('connect_error', new Error('refused'));
    expect(connection.status).toBe('lost');
    events.emit('connect');
    expect(connection.status).toBe('online');
  });

  it('asks the server to switch pairs and shows why a switch failed', async () => {
    const { socket, emitWithAck } = fakeSocket({ ok: false, error: 'no model pair named "x"' });
    const connection = new ConnectionStore(socket);
    await connection.selectPair('x');
    expect(emitWithAck).toHaveBeenCalledWith('selectPair', 'x');
    expect(connection.switchError).toBe('no model pair named "x"');
  });
});
