/** Registers the built-in tasks in every test process, as the CLI and the workers do. */
import '../../tasks/index.js';
