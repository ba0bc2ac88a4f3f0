/** The fixed clocks of the golden tests: certificates were issued at ISSUED_AT, tests render at RENDER_AT. */
export const ISSUED_AT = new Date('2026-12-01T00:00:00Z');
export const RENDER_AT = new Date('2027-06-01T00:00:00Z');
