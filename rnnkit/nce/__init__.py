"""Noise-contrastive estimation (Gutmann & Hyvärinen 2010; Mnih & Teh 2012): the output layer and its loss."""
