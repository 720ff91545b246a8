import { describe, expect, it } from 'vitest';
import { LeaseTable } from '../../../src/leases/table.js';

describe('LeaseTable', () => {
  it('names how a claimed row was recovered', () => {
    expect(LeaseTable.via({ releasedBy: 'a', holder: null })).toBe('handoff');
    expect(LeaseTable.via({ releasedBy: null, holder: 'a' })).toBe('expiry');
    expect(LeaseTable.via({ releasedBy: null, holder: null })).toBeUndefined();
  });
});
