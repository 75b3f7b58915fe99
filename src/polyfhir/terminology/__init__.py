"""Real code systems for a polyfhir server: ICD-10-CM, the HL7 R4 definitions, and the loader
behind ``polyfhir terminology load`` (docs/terminology-data.md)."""
