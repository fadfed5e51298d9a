"""The .flow language: grammar, tokenizer, syntax tree, model builder and formatter."""
