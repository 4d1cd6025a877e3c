// Bundle entry for the in-browser side of the WebGL tests (page and worker).
import { exposeProcedures } from '../shared/procedure-bridge.ts';
import { procedures } from './procedures.ts';

exposeProcedures(procedures);
