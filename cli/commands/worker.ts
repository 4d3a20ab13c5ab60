/** `rolyplay worker`: a long-running worker for an external cluster. */
import { connectCluster } from '../connect.js';
import { createWorkers, runWorkers } from '../../workers/index.js';
import { InputError } from '../../experiment/errors.js';

export async function workerCommand(opts: { taskQueue: string; concurrency: number; localConcurrency: number }): Promise<void> {
  if (!process.env.TEMPORAL_ADDRESS) {
    throw new InputError('TEMPORAL_ADDRESS', 'is not set', 'export TEMPORAL_ADDRESS=host:7233 of the cluster this worker serves (`rolyplay run` starts its own worker locally)');
  }
  const cluster = await connectCluster({});
  const taskQueues = opts.taskQueue.split(',').map((q) => q.trim()).filter(Boolean);
  const { workers, backends, stores } = await createWorkers({
    connection: await cluster.workerConnection(),
    namespace: cluster.namespace,
    taskQueues,
    concurrency: opts.concurrency,
    localConcurrency: opts.localConcurrency,
    shutdownGraceTime: '30s',
  });
  const stop = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
  process.stderr.write(`worker on ${cluster.address} (${cluster.namespace}), queues ${taskQueues.join(', ')}, store ${stores.label}\n`);
  try {
    await runWorkers(workers, stop.signal);
  } finally {
    await backends.close();
    await stores.close();
    await cluster.close();
  }
}
