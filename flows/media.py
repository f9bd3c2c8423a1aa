"""Image and media jobs: process an image, thumbnails, images into a PDF, video (ffmpeg)."""

from __future__ import annotations

from prefect import flow

from jobs import titles
from jobs.images import pdf, process, thumbnails, video
from jobs.images import titles as media_titles
from jobs.images.params import ImagesToPdf, MakeThumbnails, ProcessImage, TranscodeVideo
from jobs.policy import retrying_task
from jobs.progress import Progress
from jobs.registry import JOB_TYPES
from jobs.settings import get_settings

IMAGE = JOB_TYPES["image"]
THUMBNAILS = JOB_TYPES["thumbnails"]
PDF = JOB_TYPES["pdf"]
VIDEO = JOB_TYPES["video"]

VIDEO_SECONDS = 3000  # longest transcode; the flow allows a little more


@retrying_task(
    retries=IMAGE.retries,
    timeout_seconds=20,
    name="render-image",
    task_run_name=titles.task_run_namer("render-image", ProcessImage, media_titles.image),
)
def render_image(params: ProcessImage) -> str:
    return process.process_image(params, get_settings())


@retrying_task(
    retries=THUMBNAILS.retries,
    timeout_seconds=20,
    name="render-thumbnails",
    task_run_name=titles.task_run_namer(
        "render-thumbnails", MakeThumbnails, media_titles.thumbnails
    ),
)
def render_thumbnails(params: MakeThumbnails) -> list[str]:
    return thumbnails.make_thumbnails(params, get_settings())


@retrying_task(
    retries=PDF.retries,
    timeout_seconds=240,
    name="render-pdf",
    task_run_name=titles.task_run_namer("render-pdf", ImagesToPdf, media_titles.pdf),
)
def render_pdf(params: ImagesToPdf) -> str:
    return pdf.images_to_pdf(params, get_settings())


@retrying_task(
    retries=VIDEO.retries,
    timeout_seconds=VIDEO_SECONDS,
    name="render-video",
    task_run_name=titles.task_run_namer("render-video", TranscodeVideo, media_titles.video),
)
def render_video(params: TranscodeVideo) -> str:
    return video.transcode(params, get_settings(), timeout=VIDEO_SECONDS - 10)


@retrying_task(
    retries=VIDEO.retries,
    timeout_seconds=120,
    name="render-poster",
    task_run_name=titles.task_run_namer("render-poster", TranscodeVideo, media_titles.poster),
)
def render_poster(params: TranscodeVideo) -> str:
    return video.poster(params, get_settings(), timeout=110)


@flow(
    name=IMAGE.flow,
    timeout_seconds=IMAGE.time_limit,
    flow_run_name=titles.flow_run_namer("image", ProcessImage, media_titles.image),
)
def process_image(params: ProcessImage) -> str:
    """Resize, convert and optimise one image; the output's name in the storage root."""
    progress = Progress.start(f"Processing {params.source}")
    output = render_image(params)
    progress.update(100, f"Wrote {output}")
    return output


@flow(
    name=THUMBNAILS.flow,
    timeout_seconds=THUMBNAILS.time_limit,
    flow_run_name=titles.flow_run_namer("thumbnails", MakeThumbnails, media_titles.thumbnails),
)
def make_thumbnails(params: MakeThumbnails) -> list[str]:
    """Thumbnails of one image in several sizes; their names in the storage root."""
    progress = Progress.start(f"Thumbnails of {params.source}")
    outputs = render_thumbnails(params)
    progress.update(100, f"Wrote {', '.join(outputs)}")
    return outputs


@flow(
    name=PDF.flow,
    timeout_seconds=PDF.time_limit,
    flow_run_name=titles.flow_run_namer("pdf", ImagesToPdf, media_titles.pdf),
)
def images_to_pdf(params: ImagesToPdf) -> str:
    """One PDF page per image; the PDF's name in the storage root."""
    progress = Progress.start(f"Making {params.output} of {len(params.sources)} images")
    output = render_pdf(params)
    progress.update(100, f"Wrote {output}")
    return output


@flow(
    name=VIDEO.flow,
    timeout_seconds=VIDEO.time_limit,
    flow_run_name=titles.flow_run_namer("video", TranscodeVideo, media_titles.video),
)
def transcode_video(params: TranscodeVideo) -> list[str]:
    """Transcode a video, then extract its poster frame; the outputs' names."""
    progress = Progress.start(f"Transcoding {params.source}")
    outputs = [render_video(params)]
    progress.update(80, f"Wrote {outputs[0]}")
    if params.poster:
        outputs.append(render_poster(params))
    progress.update(100, f"Wrote {', '.join(outputs)}")
    return outputs
