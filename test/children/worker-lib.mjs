// Worker entry: registers tsx's loader in this thread (a worker's --import is not applied to
// its module loading in node 20), then runs the TypeScript worker body.
import { register } from 'tsx/esm/api';

register();
await import('./worker-lib.ts');
