/** The schools registry: CSV columns, loading and validation, and the school hierarchy. */
export * from './schema.js';
export * from './errors.js';
export * from './registry.js';
export { parseRegistry, parseRegistryBytes, loadRegistry, readRegistryFile, type ParseRegistryOptions } from './load.js';
export { decodeRegistry, encodeRegistry, type CompactRegistry } from './compact.js';
export { runAll, runSliced } from './slices.js';
export * from './aliases.js';
export * from './divisions.js';
export { placeFromList, placeFromStructure, type Place, type PlaceInput, type PlaceProblem } from './place.js';
export { readCsv, type CsvProblem, type CsvRecordHandler } from './csv.js';
export { LiveRegistry, logRefusedRows, watchRegistry, type LiveRegistryOptions, type ReloadOutcome, type RegistryChange, type WatchRegistryOptions, type WatchedRegistry } from './live.js';
export { registryLoadOptions, type RegistryCodeConfig } from './options.js';
export { regionLabel, regionPoints } from './points.js';
