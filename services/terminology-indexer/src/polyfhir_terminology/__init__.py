"""polyfhir terminology-indexer: CodeSystems, ValueSets and ConceptMaps as a secondary."""
