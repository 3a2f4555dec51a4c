"""Index stage: dense (FAISS) and sparse (BM25 over jieba tokens) indexes of passages."""
