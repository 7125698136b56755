"""Face recognition with SphereNet: alignment, data (image folders, TFRecords, decoded cache), the SphereNet backbones,
training runs, the LFW verification protocol, embeddings, export and figures."""
