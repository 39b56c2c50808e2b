// Adds one job with BullMQ's own `Queue.add`, for tests/bullmq_worker.rs to
// compare with what campanile writes: argv is the Redis port, the queue,
// the job name, the data (JSON) and the options (JSON).
const { Queue } = require('bullmq');

const [port, queueName, name, data, opts] = process.argv.slice(2);
const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: Number(port) } });
queue
  .add(name, JSON.parse(data), JSON.parse(opts))
  .then(job => console.log(job.id))
  .finally(() => queue.close());
