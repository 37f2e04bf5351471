import { describe, expect, it } from 'vitest';
import { ActionRegistry, actions, MAX_REPLY_BYTES, MAX_STREAM_CHUNKS } from '../../src/admin/actions.js';
import { bad, expectError, thrown } from '../support/helpers.js';

describe('The action registry', () => {
  it('lists registered actions with their kind, arity and options, in registration order', () => {
    const registry = new ActionRegistry();
    registry.register('memory-leak', { fn: (reply: (v: unknown) => void) => reply(1) });
    registry.register('division', { fn: (_params: unknown, _reply: unknown) => undefined, opts: { comment: 'divides' } });
    registry.register('tail', { fn: (_params: unknown, _res: unknown) => undefined, scoped: true });
    expect(registry.list()).toEqual([
      { name: 'memory-leak', scoped: false, arity: 1, opts: null },
      { name: 'division', scoped: false, arity: 2, opts: { comment: 'divides' } },
      { name: 'tail', scoped: true, arity: 2, opts: null },
    ]);
  });

  it('is one registry for the process', async () => {
    const { actions: again } = await import('../../src/admin/actions.js');
    expect(again).toBe(actions);
  });

  it('replaces an action registered again under its name, and the returned function removes it', async () => {
    const registry = new ActionRegistry();
    registry.register('hello', { fn: (reply: (v: unknown) => void) => reply('first') });
    const remove = registry.register('hello', { fn: (reply: (v: unknown) => void) => reply('second') });
    expect(await registry.run('hello')).toEqual({ ok: true, value: 'second' });
    remove();
    expect(registry.has('hello')).toBe(false);
  });

  it.each([
    { what: 'an empty name', name: '' },
    { what: 'a name with a newline', name: 'a\nb' },
    { what: 'a name with surrounding spaces', name: ' hello' },
    { what: 'a name of 129 characters', name: 'x'.repeat(129) },
    { what: "a name in PM2's km: namespace", name: 'km:heapdump' },
    { what: "a name in PM2's internal: namespace", name: 'internal:thing' },
    { what: 'a number', name: 42 },
  ])('rejects $what', ({ name }) => {
    expectError(
      thrown(() => new ActionRegistry().register(bad(name), { fn: () => undefined })),
      { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' },
    );
  });

  it('rejects a definition without a function, naming the option', () => {
    expectError(thrown(() => new ActionRegistry().register('x', bad({ fn: 'nope' }))), { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'fn' });
  });

  it('tells a listener about every action registered after it subscribed', () => {
    const registry = new ActionRegistry();
    const seen: string[] = [];
    registry.register('before', { fn: () => undefined });
    const off = registry.onRegister((info) => seen.push(info.name));
    registry.register('after', { fn: () => undefined });
    off();
    registry.register('later', { fn: () => undefined });
    expect(seen).toEqual(['after']);
  });
});

describe('Running an action', () => {
  it('gives a one-parameter action the reply function, and a two-parameter one the params first', async () => {
    const registry = new ActionRegistry();
    registry.register('one', { fn: (reply: (v: unknown) => void) => reply({ got: 'reply only' }) });
    registry.register('two', { fn: (params: unknown, reply: (v: unknown) => void) => reply({ params }) });
    expect(await registry.run('one', { ignored: true })).toEqual({ ok: true, value: { got: 'reply only' } });
    expect(await registry.run('two', '4')).toEqual({ ok: true, value: { params: '4' } });
    expect(await registry.run('two')).toEqual({ ok: true, value: { params: {} } });
  });

  it('keeps only the first reply', async () => {
    const registry = new ActionRegistry();
    registry.register('twice', {
      fn: (reply: (v: unknown) => void) => {
        reply(1);
        reply(2);
      },
    });
    expect(await registry.run('twice')).toEqual({ ok: true, value: 1 });
  });

  it('takes the value of a returned Promise as the reply, and its rejection as an error result', async () => {
    const registry = new ActionRegistry();
    registry.register('async', { fn: async () => ({ done: true }) });
    registry.register('rejects', { fn: async () => Promise.reject(new RangeError('no such user')) });
    expect(await registry.run('async')).toEqual({ ok: true, value: { done: true } });
    expect(await registry.run('rejects')).toEqual({ ok: false, error: 'action "rejects" failed: RangeError: no such user' });
  });

  it('answers an action that throws with an error result, never a throw', async () => {
    const registry = new ActionRegistry();
    registry.register('throws', {
      fn: () => {
        throw new TypeError('boom');
      },
    });
    expect(await registry.run('throws')).toEqual({ ok: false, error: 'action "throws" failed: TypeError: boom' });
  });

  it('answers an action that never replies with an error result once its timeout passes', async () => {
    const registry = new ActionRegistry();
    registry.register('silent', { fn: () => undefined });
    expect(await registry.run('silent', undefined, { timeoutMs: 20 })).toEqual({ ok: false, error: 'action "silent" did not answer within 20 ms' });
  });

  it('answers an unknown action with an error result', async () => {
    expect(await new ActionRegistry().run('nope')).toEqual({ ok: false, error: 'no action named "nope" (string)' });
  });

  it('answers a reply larger than the limit, or one that cannot be serialised, with an error result', async () => {
    const registry = new ActionRegistry();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    registry.register('big', { fn: (reply: (v: unknown) => void) => reply('x'.repeat(MAX_REPLY_BYTES)) });
    registry.register('circular', { fn: (reply: (v: unknown) => void) => reply(circular) });
    registry.register('bigint', { fn: (reply: (v: unknown) => void) => reply(1n) });
    expect(await registry.run('big')).toEqual({ ok: false, error: `reply of ${MAX_REPLY_BYTES + 2} bytes exceeds the ${MAX_REPLY_BYTES}-byte limit` });
    expect((await registry.run('circular')).ok).toBe(false);
    expect(await registry.run('bigint')).toEqual({ ok: false, error: 'reply could not be serialised: Do not know how to serialize a BigInt' });
  });

  it('hands back a JSON copy of the reply, so later changes to the object do not show', async () => {
    const registry = new ActionRegistry();
    const state = { n: 1, when: new Date(0) };
    registry.register('state', {
      fn: (reply: (v: unknown) => void) => {
        reply(state);
        state.n = 2;
      },
    });
    expect(await registry.run('state')).toEqual({ ok: true, value: { n: 1, when: '1970-01-01T00:00:00.000Z' } });
  });
});

describe('Running a scoped action', () => {
  it('streams its chunks, then its end, and resolves with the end', async () => {
    const registry = new ActionRegistry();
    registry.register('tail', {
      scoped: true,
      fn: (params: { lines: number }, res: { send(v: unknown): void; end(v?: unknown): void }) => {
        for (let i = 1; i <= params.lines; i++) res.send(`line ${i}`);
        res.end('done');
      },
    });
    const seen: unknown[] = [];
    const result = await registry.run('tail', { lines: 2 }, { onStream: (kind, data) => seen.push([kind, data]) });
    expect(seen).toEqual([
      ['stream', 'line 1'],
      ['stream', 'line 2'],
      ['end', 'done'],
    ]);
    expect(result).toEqual({ ok: true, value: 'done' });
  });

  it('ends with an error when it streams more chunks than the limit', async () => {
    const registry = new ActionRegistry();
    registry.register('flood', {
      scoped: true,
      fn: (_p: unknown, res: { send(v: unknown): void }) => {
        for (let i = 0; i < MAX_STREAM_CHUNKS + 10; i++) res.send(i);
      },
    });
    const kinds: string[] = [];
    const result = await registry.run('flood', undefined, { onStream: (kind) => kinds.push(kind) });
    expect({ chunks: kinds.filter((k) => k === 'stream').length, last: kinds.at(-1), result }).toEqual({
      chunks: MAX_STREAM_CHUNKS,
      last: 'error',
      result: { ok: false, error: `action "flood" streamed more than ${MAX_STREAM_CHUNKS} chunks` },
    });
  });

  it('streams an error when it throws, and ignores what it sends after the end', async () => {
    const registry = new ActionRegistry();
    registry.register('fails', {
      scoped: true,
      fn: (_p: unknown, res: { send(v: unknown): void }) => {
        res.send('started');
        throw new Error('disk full');
      },
    });
    const seen: unknown[] = [];
    const result = await registry.run('fails', undefined, { onStream: (kind, data) => seen.push([kind, data]) });
    expect({ seen, result }).toEqual({
      seen: [
        ['stream', 'started'],
        ['error', 'action "fails" failed: Error: disk full'],
      ],
      result: { ok: false, error: 'action "fails" failed: Error: disk full' },
    });
  });
});
