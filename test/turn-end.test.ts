/**
 * The end of an event-loop turn (src/turn-end.ts): work queued with atTurnEnd runs once, at
 * setImmediate unless a frontend ends the turn first (the batched UDP socket, after each batch).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { atTurnEnd, endTurn } from '../src/turn-end.js';

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('turn end', () => {
  it('runs queued work at setImmediate when no frontend ends the turn', async () => {
    const ran: string[] = [];
    atTurnEnd(() => ran.push('a'));
    atTurnEnd(() => ran.push('b'));
    assert.deepEqual(ran, [], 'not at once');
    await Promise.resolve();
    assert.deepEqual(ran, [], 'not in a microtask');
    await immediate();
    assert.deepEqual(ran, ['a', 'b']);
  });

  it('endTurn runs it now, in order, and only once (the pending setImmediate finds nothing)', async () => {
    const ran: string[] = [];
    atTurnEnd(() => ran.push('a'));
    atTurnEnd(() => ran.push('b'));
    endTurn();
    assert.deepEqual(ran, ['a', 'b']);
    await immediate();
    await immediate();
    assert.deepEqual(ran, ['a', 'b']);
    endTurn();
    assert.deepEqual(ran, ['a', 'b'], 'an empty turn end does nothing');
  });

  it('work queued while the turn ends runs in the same call; work queued after it waits for the next end', async () => {
    const ran: string[] = [];
    atTurnEnd(() => {
      ran.push('a');
      atTurnEnd(() => ran.push('a2'));
    });
    endTurn();
    assert.deepEqual(ran, ['a', 'a2']);
    atTurnEnd(() => ran.push('c'));
    await immediate();
    assert.deepEqual(ran, ['a', 'a2', 'c'], 'a new setImmediate runs it when none is pending');
    atTurnEnd(() => ran.push('d'));
    endTurn();
    atTurnEnd(() => ran.push('e'));
    await immediate();
    assert.deepEqual(ran, ['a', 'a2', 'c', 'd', 'e'], 'the setImmediate still pending from before the early end runs it');
  });

  it('a throwing function does not stop the others; the first error is thrown after them', () => {
    const ran: string[] = [];
    atTurnEnd(() => {
      throw new Error('first');
    });
    atTurnEnd(() => ran.push('b'));
    atTurnEnd(() => {
      throw new Error('second');
    });
    atTurnEnd(() => ran.push('d'));
    assert.throws(() => endTurn(), /first/);
    assert.deepEqual(ran, ['b', 'd']);
    endTurn();
  });
});
