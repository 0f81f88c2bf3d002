/**
 * `npm run bundle:workflows`: bundles the fan-out workflows into dist/workflow-bundle.js (or the path given), for a
 * worker started with WORKFLOW_BUNDLE=<that file>.
 */
import { writeWorkflowBundle } from '../src/worker/workflow-bundle';

writeWorkflowBundle(process.argv[2])
  .then((file) => console.log(`workflow bundle written to ${file}`))
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
