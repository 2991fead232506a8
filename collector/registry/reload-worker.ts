/** Entry of the worker thread `reloadInWorker` starts: reads, hashes and parses one registry file. */
import { parentPort, workerData } from 'node:worker_threads';
import { handleReload, type ReloadRequest } from './reload.js';

const { answer, transfer } = handleReload(workerData as ReloadRequest);
parentPort?.postMessage(answer, transfer);
