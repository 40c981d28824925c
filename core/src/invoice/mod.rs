//! The invoice: typed model of the v2 invoice JSON (official key names), identifiers that
//! validate on construction, the tax ID (شماره منحصر به فرد مالیاتی), exact money, and loading
//! from files (one object, an array, JSON Lines, directories), and Jalali dates.

pub mod ids;
pub mod jalali;
pub mod load;
pub mod model;
pub mod money;
pub mod taxid;
pub mod tree;

pub use ids::{IdError, MemoryId};
pub use load::{load_bytes, load_paths, LoadError, LoadedInvoice};
pub use model::{CarriedGoods, Header, Invoice, Item, Payment};
pub use taxid::{inno_for_serial, TaxId, TaxIdParts};
