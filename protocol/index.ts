/** The wire contract shared by agent and collector. */
export * from './report.js';
export * from './errors.js';
export * from './devices.js';
export * from './wire.js';
export * from './columns.js';
