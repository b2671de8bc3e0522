-- The compiled module that decides for each published version, so every host loads the same
-- bytes (and bundles built elsewhere, which carry no Rego to rebuild from, can be published).
ALTER TABLE policy_versions ADD COLUMN module BLOB;
ALTER TABLE policy_versions ADD COLUMN data_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE policy_versions ADD COLUMN mode TEXT NOT NULL DEFAULT '';
