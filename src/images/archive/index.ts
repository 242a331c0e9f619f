/**
 * Image archives: `images import` (OCI layout and `docker save` tars into
 * the namespace) and `images export` (an OCI layout tar with a Docker
 * manifest.json), both compatible with containerd 1.6's ctr.
 */
export { importArchive, childGcLabels, type ImportOptions, type ImportResult, type ImportProgress, type ImportedImage } from './import.js';
export { exportImages, planExport, exportStream, type ExportOptions, type ExportPlan } from './export.js';
export { MAX_JSON_BYTES, MAX_FILES } from './read.js';
