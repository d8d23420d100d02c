export const SCHEMA_ID = 'lbdiag.v1';
