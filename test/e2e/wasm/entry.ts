// Bundle entry for the in-browser side of the WebAssembly kernel tests (page and worker).
import { exposeProcedures } from '../shared/procedure-bridge.ts';
import { procedures } from './procedures.ts';

exposeProcedures(procedures);
