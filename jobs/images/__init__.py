"""Images and media jobs: resize and convert, thumbnails, PDFs from images, video (ffmpeg)."""
