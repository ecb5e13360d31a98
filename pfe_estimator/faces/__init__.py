"""Layer 2, pixels in, pixels out: reading images, 5-point alignment, degradations, the network's input.

  image_io.py              decoding any image file or bytes to RGB uint8, with one-line refusals
  alignment.py             the templates, cp2tform / Umeyama similarity fits, YuNet landmarks, landmark files
  network_input.py         an image or crop as the network's float32 input (centre-crop, resize, standardise)
  kinds.py                 the one registry of degradation kinds: eleven kinds in three families, by name
  degradations.py          the generator's kinds: blur, downscale, JPEG, occlusion (quality-aware training)
  camera_degradations.py   what a camera does: tiny faces, motion blur, noise, exposure, downscale + JPEG
  lens_degradations.py     a defocused lens in low light, in numpy alone
"""
