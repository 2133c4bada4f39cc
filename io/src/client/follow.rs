//! Finding the node that serves the registry: a master client tries the addresses it was
//! given in turn, goes straight to a leader a standby names, and backs off between rounds,
//! so that it rides out a failover or a daemon restart without a hand on it.

use std::time::Duration;

use crate::client::master::MasterClient;
use crate::client::session::ClientError;
use crate::credentials::Token;
use crate::tls::ClientTls;

/// The first pause after a round of addresses failed; doubled after each, up to the most:
/// a second, so that a failover costs a master at most a second more than the lease.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How many standbys in a row may point elsewhere in one round: a cluster whose nodes
/// disagree about the leader (mid-failover) must not keep the client bouncing.
const MAX_REDIRECTS_PER_ROUND: usize = 4;

/// Who a master is and how it reaches the cluster.
#[derive(Debug, Clone)]
pub struct Target {
    /// Every node's address (one is enough when it redirects).
    pub addresses: Vec<String>,
    pub name: String,
    pub token: Token,
    pub tls: Option<ClientTls>,
}

/// Why following stopped for good: retrying cannot help.
fn is_final(error: &ClientError) -> bool {
    matches!(error, ClientError::Goodbye(_) | ClientError::Tls(_))
}

/// Connects to the node that leads, trying until one accepts.
///
/// # Errors
///
/// When a node refuses the master itself (a bad token: its Goodbye says why) or TLS
/// cannot work; every other failure is retried with backoff.
pub async fn connect_to_leader(target: &Target) -> Result<(MasterClient, String), ClientError> {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut last_error = None;
        for address in &target.addresses {
            let mut next = Some(address.clone());
            let mut redirects = 0;
            while let Some(address) = next.take() {
                match MasterClient::connect_with(
                    &address,
                    &target.name,
                    &target.token,
                    target.tls.as_ref(),
                )
                .await
                {
                    Ok(client) => return Ok((client, address)),
                    Err(ClientError::NotLeader(Some(leader)))
                        if leader != address && redirects < MAX_REDIRECTS_PER_ROUND =>
                    {
                        redirects += 1;
                        next = Some(leader);
                    }
                    Err(error) if is_final(&error) => return Err(error),
                    Err(error) => {
                        tracing::debug!(%address, %error, "not leading or not reachable");
                        last_error = Some(error);
                    }
                }
            }
        }
        if let Some(error) = last_error {
            eprintln!(
                "rollcall: no leader reachable ({error}); retrying in {} ms",
                backoff.as_millis()
            );
        }
        smol::Timer::after(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
