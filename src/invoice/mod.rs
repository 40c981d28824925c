//! The invoice: typed model of the v2 invoice JSON (official key names), identifiers that
//! validate on construction, the tax ID (شماره منحصر به فرد مالیاتی), exact money, and loading
//! from files.
