//! The async store (features `tokio`, `smol`): one multiplexed connection per store, made in
//! the runtime of the first step; a watch subscribes on a connection of its own.

use futures_lite::StreamExt as _;
use oauth_core::store::{AsyncStore, StoreError, StoreFuture, StoreReply, StoreRequest};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use crate::{RedisStore, is_connection_error, lock, scripts, unreachable};

impl RedisStore {
    fn config(&self) -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
    }

    async fn shared_connection(&self) -> Result<MultiplexedConnection, StoreError> {
        if let Some(connection) = lock(&self.shared).clone() {
            return Ok(connection);
        }
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config())
            .await
            .map_err(|e| unreachable(&e))?;
        *lock(&self.shared) = Some(connection.clone());
        Ok(connection)
    }

    /// Runs a script step; a broken connection (Redis restarted) is replaced once.
    async fn run(&self, request: &StoreRequest) -> Result<StoreReply, StoreError> {
        let Some(invocation) = scripts::invocation(&self.keys, request) else {
            return Err(StoreError::NotAttached);
        };
        for attempt in 0..2 {
            let mut connection = self.shared_connection().await?;
            match invocation
                .invoke_async::<redis::Value>(&mut connection)
                .await
            {
                Ok(value) => return scripts::reply(request, value),
                Err(error) => {
                    *lock(&self.shared) = None;
                    if attempt == 1 || !is_connection_error(&error) {
                        return Err(unreachable(&error));
                    }
                }
            }
        }
        Err(StoreError::Unreachable(
            "the connection kept failing".into(),
        ))
    }

    /// Subscribed first, then a look at the version, then the first commit's message. The
    /// driver ends it at the watch's `until`; the session then looks at the record again.
    async fn watch_async(&self, seen: u64) -> Result<StoreReply, StoreError> {
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| unreachable(&e))?;
        pubsub
            .subscribe(&self.keys.channel)
            .await
            .map_err(|e| unreachable(&e))?;
        let current = self.run(&StoreRequest::Read).await?;
        if scripts::version_of(&current) != seen {
            return Ok(StoreReply::Changed);
        }
        match pubsub.on_message().next().await {
            Some(_) => Ok(StoreReply::Changed),
            None => Err(StoreError::Unreachable("the subscription ended".into())),
        }
    }
}

impl AsyncStore for RedisStore {
    fn settings(&self) -> &oauth_core::store::StoreSettings {
        &self.settings
    }

    fn execute<'a>(&'a self, request: &'a StoreRequest) -> StoreFuture<'a> {
        Box::pin(async move {
            match request {
                StoreRequest::Watch { seen, .. } => self.watch_async(*seen).await,
                _ => self.run(request).await,
            }
        })
    }
}
