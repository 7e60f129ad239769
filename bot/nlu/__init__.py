"""Vietnamese NLU: Rasa graph components, teencode table, evaluation, benchmark and lint.

Components (named in config.yml by their dotted path):
- bot.nlu.normalizer.VietnameseNormalizer      text_norm / text_folded message attributes
- bot.nlu.tokenizer.VietnameseTokenizer        whitespace tokens, lemma = folded normal form
- bot.nlu.classifier.LinearIntentClassifier    TF-IDF words + char n-grams, logistic regression
- bot.nlu.extractor.VietnameseEntityExtractor  phone, OTP, ID, service, location
"""
