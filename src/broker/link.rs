//! The page link: minted in one place for every leg that texts it, bound to its session once
//! the commit that holds it has landed, and claimed by the first device that opens it.

use uuid::Uuid;

use super::{Broker, BrokerError, Outcome};
use crate::{script::drive::PageLink, store::Index, token};

impl Broker {
    /// A fresh link: ≥128 random bits, of which only the hash is ever stored.
    pub(super) fn mint_link(&self) -> PageLink {
        let secret = token::generate();
        PageLink {
            token_hash: token::hash(&secret),
            url: self.config.public_url.join(&format!("/s/{secret}")),
        }
    }

    /// Points the link's token at its session.
    pub(super) async fn bind_link(&self, link: &PageLink, id: Uuid) -> Result<(), BrokerError> {
        self.store
            .bind(Index::Token, &link.token_hash, id, self.config.session_ttl)
            .await?;
        Ok(())
    }

    /// Binds the link to the first device that presents it; `NotFound` for a token that
    /// leads nowhere.
    pub(super) async fn claim_link(
        &self,
        token_hash: &str,
        device_hash: &str,
    ) -> Result<Outcome, BrokerError> {
        let id = self
            .store
            .lookup(Index::Token, token_hash)
            .await?
            .ok_or(BrokerError::NotFound)?;
        self.transact(id, |d| match d.claim_link(token_hash, device_hash) {
            Ok(()) => Outcome::LinkClaimed { session: id },
            Err(refusal) => self.refusal(&d.session, refusal),
        })
        .await
    }
}
