/** The built-in backends, registered by name (a new backend: a folder backends/<name>/ and one line here). */
import { registerBackend } from './catalog.js';
import { clipBackend } from './clip/index.js';
import { onnxBackend } from './onnx/index.js';
import { openaiBackend } from './openai/index.js';

registerBackend(openaiBackend);
registerBackend(onnxBackend);
registerBackend(clipBackend);
