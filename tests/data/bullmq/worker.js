// The BullMQ worker tests/bullmq_worker.rs runs: a stock `Worker` on the
// queue given in QUEUE (Redis at REDIS_PORT) that records each job it
// processes, one JSON line per run with the job id, name, data and options,
// appended to DONE_FILE.
const fs = require('fs');
const { Worker } = require('bullmq');

const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT), maxRetriesPerRequest: null };
const worker = new Worker(
  process.env.QUEUE,
  async job => {
    const run = { id: job.id, name: job.name, data: job.data, opts: job.opts, bigText: String(job.data.big) };
    fs.appendFileSync(process.env.DONE_FILE, JSON.stringify(run) + '\n');
  },
  { connection },
);
worker.on('error', err => console.error(err));
process.on('SIGTERM', () => worker.close().then(() => process.exit(0)));
