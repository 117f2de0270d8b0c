import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId, newRequestId, randomInt64 } from '../../src/lib/ids.js';

test('pooled random ids are fresh across refills of their pool', () => {
  // 3,000 ids cross several refills of each pool (512 ids per block).
  const ints = Array.from({ length: 3000 }, randomInt64);
  assert.equal(new Set(ints).size, ints.length, 'no random_id repeats');
  assert.ok(ints.some((v) => v < 0n) && ints.some((v) => v > 0n), 'the whole signed 64-bit range is used');
  assert.ok(
    ints.some((v) => v > 2n ** 53n || v < -(2n ** 53n)),
    'values beyond 2^53 occur: all 64 bits are random',
  );
  const requestIds = Array.from({ length: 3000 }, newRequestId);
  assert.equal(new Set(requestIds).size, requestIds.length);
  for (const id of requestIds.slice(0, 10)) assert.match(id, /^[A-Za-z0-9_-]{16}$/);
  assert.match(newId('key'), /^key_[0-9a-z]{25}$/);
});
