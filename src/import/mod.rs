//! Import invoices from spreadsheets (XLSX, CSV) in Persian or English column names, with
//! Jalali or Gregorian dates, into the official invoice JSON.
