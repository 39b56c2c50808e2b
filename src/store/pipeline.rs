//! Pipelining: commands routed by key, one pipeline per hash slot on a
//! cluster or per megabyte on a single server, scripts loaded on demand,
//! and the `WAIT` that follows writes with `[redis] wait_replicas`.

use redis::{Pipeline, Value};

use super::connection::Connection;
use super::scripts::{self, Lua};
use super::{Error, Result, Store};

/// About how many bytes of commands go in one pipeline on a single server;
/// see [`Store::query_in_pipelines`].
pub(super) const PIPELINE_BYTES: usize = 1 << 20;

/// `[redis] wait_replicas`: pushes and takes are followed by `WAIT`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wait {
    pub(super) replicas: u32,
    pub(super) timeout_ms: u64,
}

impl Wait {
    /// Appends the `WAIT` that follows a pipeline's writes on the same node.
    pub(super) fn add_to(self, pipe: &mut Pipeline) {
        pipe.cmd("WAIT").arg(self.replicas).arg(self.timeout_ms);
    }

    /// Takes the `WAIT` reply off the end of `replies`; `true` if enough
    /// replicas have the writes and the node `con` wrote them to is still
    /// the primary (see [`Connection::still_primary`]); else `false`, with
    /// a warning (the writes stand regardless).
    pub(super) async fn acknowledged(self, con: &Connection, replies: &mut Vec<Value>, what: &str) -> bool {
        if !self.check(replies, what) {
            return false;
        }
        if con.still_primary().await {
            return true;
        }
        crate::metrics::METRICS.redis_errors.inc();
        tracing::warn!(
            "{what} acknowledged by replicas of a node the sentinels no longer name as primary, or during a failover; not trusting it"
        );
        false
    }

    /// Takes the `WAIT` reply off the end of `replies`; `false`, with a
    /// warning, if fewer replicas than asked have the writes (they stand
    /// regardless).
    pub(super) fn check(self, replies: &mut Vec<Value>, what: &str) -> bool {
        let acked: Option<u32> = replies.pop().and_then(|v| redis::from_redis_value(v).ok());
        let enough = acked.is_some_and(|n| n >= self.replicas);
        if !enough {
            crate::metrics::METRICS.redis_errors.inc();
            tracing::warn!(
                replicas = self.replicas,
                acknowledged = acked.unwrap_or(0),
                timeout_ms = self.timeout_ms,
                "{what} not yet on enough replicas; a failover now could take it back"
            );
        }
        enough
    }
}

impl Store {
    /// Loads the pipelined scripts into Redis ahead of time, so the first due
    /// tick does not pay an extra round trip to find them missing.
    pub async fn load_scripts(&self) -> Result<()> {
        self.load(&[&*scripts::ENQUEUE, &*scripts::SYNC, &*scripts::FINISH, &*scripts::RETRY]).await
    }

    /// `SCRIPT LOAD`s, one command each: on a cluster each goes to every
    /// node.
    async fn load(&self, scripts: &[&Lua]) -> Result<()> {
        let mut con = self.con.clone();
        for lua in scripts {
            let _: Value = redis::cmd("SCRIPT").arg("LOAD").arg(lua.source).query_async(&mut con).await?;
        }
        Ok(())
    }

    /// Runs commands pipelined and returns their replies in the order given:
    /// one pipeline on a single server; on a cluster, where a pipeline must
    /// stay within one hash slot, one per slot, concurrently. Each command
    /// comes with a key that routes it. Scripts Redis does not know are
    /// loaded and their pipeline run again (see [`Store::query_pipeline`]).
    /// With `wait`, a `WAIT` on each node follows the writes sent to it.
    pub(super) async fn query_slotted(
        &self,
        cmds: Vec<(String, redis::Cmd)>,
        uses: &[&'static Lua],
        wait: Option<Wait>,
    ) -> Result<Vec<Value>> {
        if !self.is_cluster() {
            return self.query_in_pipelines(cmds, uses, wait).await;
        }
        let mut groups: Vec<(redis::cluster_routing::Slot, Vec<usize>, Pipeline)> = Vec::new();
        for (i, (key, cmd)) in cmds.into_iter().enumerate() {
            let slot = redis::cluster_routing::Slot::for_key(&key);
            let group = match groups.iter().position(|(s, ..)| *s == slot) {
                Some(g) => g,
                None => {
                    groups.push((slot, Vec::new(), redis::pipe()));
                    groups.len() - 1
                }
            };
            groups[group].1.push(i);
            groups[group].2.add_command(cmd);
        }
        let mut tasks = tokio::task::JoinSet::new();
        let total: usize = groups.iter().map(|(_, indices, _)| indices.len()).sum();
        for (_, indices, mut pipe) in groups {
            let store = self.clone();
            let uses = uses.to_vec();
            wait.inspect(|w| w.add_to(&mut pipe));
            tasks.spawn(async move {
                let mut replies: Result<Vec<Value>> = store.query_pipeline(&pipe, &uses).await;
                if let (Some(w), Ok(replies)) = (wait, replies.as_mut()) {
                    w.check(replies, "a push");
                }
                (indices, replies)
            });
        }
        let mut out = vec![Value::Nil; total];
        while let Some(joined) = tasks.join_next().await {
            let (indices, replies) = joined.map_err(Error::Task)?;
            for (i, reply) in indices.into_iter().zip(replies?) {
                out[i] = reply;
            }
        }
        Ok(out)
    }

    pub(crate) async fn run_script<T: redis::FromRedisValue, A: redis::ToRedisArgs>(
        &self,
        lua: &Lua,
        keys: &[String],
        args: &[A],
    ) -> Result<T> {
        let mut invocation = lua.script.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        Ok(invocation.invoke_async(&mut self.con.clone()).await?)
    }

    /// [`Store::query_slotted`] on a single server: the commands in order,
    /// as pipelines of about [`PIPELINE_BYTES`] each, one after another. The
    /// client keeps its write buffer at the size of the largest request it
    /// ever sent, so one pipeline of 100,000 ticks would keep tens of
    /// megabytes for the life of the connection; the round trips this adds
    /// (one per megabyte) are small next to Redis running the scripts.
    pub(super) async fn query_in_pipelines(
        &self,
        cmds: Vec<(String, redis::Cmd)>,
        uses: &[&'static Lua],
        wait: Option<Wait>,
    ) -> Result<Vec<Value>> {
        let mut replies = Vec::with_capacity(cmds.len());
        let mut cmds = cmds.into_iter().peekable();
        loop {
            let (mut pipe, mut bytes) = (redis::pipe(), 0);
            while bytes < PIPELINE_BYTES
                && let Some((_, cmd)) = cmds.next()
            {
                bytes += cmd
                    .args_iter()
                    .map(|arg| match arg {
                        redis::Arg::Simple(a) => a.len(),
                        _ => 0,
                    })
                    .sum::<usize>();
                pipe.add_command(cmd);
            }
            let last = cmds.peek().is_none();
            if last {
                // WAIT covers every earlier write on this connection.
                wait.inspect(|w| w.add_to(&mut pipe));
            }
            let mut con = self.con.clone();
            let mut part: Vec<Value> = self.query_pipeline_on(&mut con, &pipe, uses).await?;
            if let (true, Some(w)) = (last, wait) {
                w.acknowledged(&con, &mut part, "a push").await;
            }
            replies.extend(part);
            if last {
                return Ok(replies);
            }
        }
    }

    /// Runs a pipeline of EVALSHA calls, loading the scripts and retrying
    /// once if Redis does not know them (after a restart or failover). The
    /// scripts are idempotent, so the retry cannot double anything.
    pub(super) async fn query_pipeline<T: redis::FromRedisValue>(
        &self,
        pipe: &Pipeline,
        uses: &[&Lua],
    ) -> Result<T> {
        self.query_pipeline_on(&mut self.con.clone(), pipe, uses).await
    }

    /// [`Store::query_pipeline`] on `con`, which then knows the node it
    /// wrote to.
    async fn query_pipeline_on<T: redis::FromRedisValue>(
        &self,
        con: &mut Connection,
        pipe: &Pipeline,
        uses: &[&Lua],
    ) -> Result<T> {
        match pipe.query_async(con).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                self.load(uses).await?;
                Ok(pipe.query_async(con).await?)
            }
            other => Ok(other?),
        }
    }

    /// Runs one script and, with `[redis] wait_replicas`, the `WAIT` after
    /// it on the same node: its reply, and whether the write is
    /// acknowledged ([`Wait::acknowledged`]; always without
    /// `wait_replicas`). For the worker's records of how runs ended, which
    /// must not be lost to a failover unnoticed.
    pub(super) async fn run_script_acked<T: redis::FromRedisValue>(
        &self,
        lua: &'static Lua,
        keys: &[String],
        args: &[&[u8]],
        what: &str,
    ) -> Result<(T, bool)> {
        let Some(wait) = self.wait else {
            return Ok((self.run_script(lua, keys, args).await?, true));
        };
        let mut pipe = redis::pipe();
        let evalsha = pipe.cmd("EVALSHA").arg(lua.script.get_hash()).arg(keys.len()).arg(keys);
        for arg in args {
            evalsha.arg(*arg);
        }
        wait.add_to(&mut pipe);
        let mut con = self.con.clone();
        let mut replies: Vec<Value> = self.query_pipeline_on(&mut con, &pipe, &[lua]).await?;
        let acknowledged = wait.acknowledged(&con, &mut replies, what).await;
        let reply = replies.pop().ok_or_else(|| Error::Reply(format!("{what}: no reply")))?;
        Ok((redis::from_redis_value(reply).map_err(redis::RedisError::from)?, acknowledged))
    }
}
