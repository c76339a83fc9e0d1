//! Counters a node keeps about itself: measurements for reports, not
//! protocol state. Nothing the node decides reads them, a crash keeps them,
//! and two nodes that differ only in them are in the same state.

/// A node's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeStats {
    /// Client requests passed to an owner (§4.5).
    pub forwarded: u64,
    /// Puts (and deletes) this node coordinated.
    pub coordinated_puts: u64,
    /// Gets this node coordinated.
    pub coordinated_gets: u64,
    /// Replicas that did not answer a coordinator in time.
    pub replica_timeouts: u64,
    /// Hints this node started holding for another node (§4.6).
    pub hints_created: u64,
    /// Hints their target acknowledged, and so deleted here.
    pub hints_delivered: u64,
    /// Read repairs this node sent (§5).
    pub read_repairs: u64,
    /// Anti-entropy comparisons this node started (§4.7).
    pub anti_entropy_rounds: u64,
    /// Keys anti-entropy updated here.
    pub anti_entropy_keys_repaired: u64,
    /// Vector clock entries dropped by truncation (each may cause a false conflict).
    pub clock_truncations: u64,
    /// Keys whose tombstones the purge dropped.
    pub tombstones_purged: u64,
    /// Keys this node stopped owning and offered to their new owners (§4.9).
    pub keys_transferred: u64,
    /// Membership changes this node learned (its own included).
    pub membership_changes: u64,
}
