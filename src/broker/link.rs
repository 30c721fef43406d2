//! The page link: minted in one place for every leg that texts it, bound to its session once
//! the commit that holds it has landed, and claimed by the first device that opens it.

use uuid::Uuid;

/// What a link leads to for one device.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkFor {
    /// Valid and not yet claimed: the device may claim it.
    Unclaimed,
    /// Already claimed by this very device.
    Yours { session: Uuid },
    /// Unknown, expired, closed or another device's: all look alike.
    Nothing,
}

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

    /// What a link would do for a device, changing nothing: a link previewer's fetch and the
    /// customer's first look are the same request, and neither may claim it.
    pub async fn link_for(
        &self,
        token_hash: &str,
        device_hash: Option<&str>,
    ) -> Result<LinkFor, BrokerError> {
        let Some(id) = self.store.lookup(Index::Token, token_hash).await? else {
            return Ok(LinkFor::Nothing);
        };
        let s = self.load_versioned(id).await?.session;
        let link = s
            .link
            .as_ref()
            .filter(|l| l.token_hash == token_hash && s.is_open(chrono::Utc::now()));
        Ok(match link.map(|l| l.device_hash.as_deref()) {
            None => LinkFor::Nothing,
            Some(None) => LinkFor::Unclaimed,
            Some(Some(bound)) if Some(bound) == device_hash => LinkFor::Yours { session: id },
            Some(Some(_)) => LinkFor::Nothing,
        })
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
