//! Every code the tax system (and the tool itself) can show, explained: meaning, causes and
//! fix in Persian and English, from the catalogue in `schemas/`, plus the decoder for the
//! 7-digit content codes.
