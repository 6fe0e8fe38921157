// Course staff upload lectures from the library page with Uppy (@uppy/core + @uppy/aws-s3),
// its hooks pointed at our API, never at the store's own API: the page asks upload_svc for
// a presigned POST (small files) or a multipart upload whose part URLs it presigns on demand,
// sends the bytes straight to the object store, then completes the upload through the API
// and hands the new video to the library, which follows its transcoding.
//
// Resume after a reload needs no browser storage (the LMS frame may have none): the
// library's pending videos name their uploads; a file chosen again with the same name and
// size resumes the matching multipart upload from the parts the store lists (ListParts).
import AwsS3 from "@uppy/aws-s3";
import Uppy from "@uppy/core";

const MULTIPART = "UPLOAD_METHOD_MULTIPART";
const PARTS_IN_FLIGHT = 4; // requests to the store at once, across files (the edge keeps its own)
const PRESIGN_AHEAD = 8; // part URLs asked for in one call (the API presigns at most 100)
const EXPIRY_MARGIN_MS = 60_000;
const API = "/api/v1/media";

export function mountUpload(root, { api, t, userId, courseId, onVideo }) {
  const zone = root.querySelector("#upload-zone");
  const input = root.querySelector("#upload-input");
  const choose = root.querySelector("#upload-choose");
  const list = root.querySelector("#uploads");
  const template = document.getElementById("upload-template");
  const plans = new WeakMap(); // File → what the API answered for it
  const rows = new Map(); // Uppy file id → its row in the list
  const resumedIds = new Set();

  const words = (error) => (error && error.network ? t("error.network") : (error && error.message) || String(error));
  const planOf = (file) => plans.get(file.data);

  const uppy = new Uppy({ autoProceed: false, allowMultipleUploadBatches: true });
  uppy.use(AwsS3, {
    limit: PARTS_IN_FLIGHT,
    retryDelays: [0, 1000, 3000, 5000],
    shouldUseMultipart: (file) => planOf(file).method === MULTIPART,
    getChunkSize: (data) => plans.get(data).partSize,
    getUploadParameters: async (file) => {
      const plan = planOf(file);
      return { method: "POST", url: plan.url, fields: plan.fields, headers: {} };
    },
    // The API created the multipart upload when the file was chosen; Uppy's key is our id too.
    createMultipartUpload: async (file) => ({ uploadId: planOf(file).uploadId, key: planOf(file).uploadId }),
    listParts: async (file, { uploadId }) => listParts(uploadId),
    signPart: async (file, { partNumber, signal }) => {
      const part = await presigned(planOf(file), partNumber, signal);
      return { method: "PUT", url: part.url, headers: {} };
    },
    completeMultipartUpload: async (file) => {
      await complete(file);
      return {};
    },
    // Uppy calls this when a part fails for good too: the parts stay, so choosing the file
    // again resumes; the API's expiry removes uploads nobody finishes.
    abortMultipartUpload: async () => {},
  });

  async function listParts(uploadId) {
    const parts = [];
    let pageToken = "";
    do {
      const page = await api.call("GET", `${API}/uploads/${encodeURIComponent(uploadId)}/parts`, {
        query: { page_size: 1000, page_token: pageToken },
      });
      for (const part of page.parts || []) parts.push({ PartNumber: part.part_number, Size: Number(part.size), ETag: part.etag });
      pageToken = page.next_page_token || "";
    } while (pageToken);
    return parts;
  }

  // Part URLs are presigned on demand, a few ahead, and asked for again near their expiry.
  async function presigned(plan, partNumber, signal) {
    const known = plan.parts.get(partNumber);
    if (known) {
      const part = await known;
      if (Date.parse(part.expires_at) - Date.now() > EXPIRY_MARGIN_MS) return part;
      plan.parts.delete(partNumber);
    }
    const wanted = [];
    for (let n = partNumber; n <= plan.partCount && wanted.length < PRESIGN_AHEAD; n += 1) {
      if (n === partNumber || !plan.parts.has(n)) wanted.push(n);
    }
    const reply = api.call("POST", `${API}/uploads/${encodeURIComponent(plan.uploadId)}/parts`, {
      body: { part_numbers: wanted },
      signal,
    });
    for (const n of wanted) {
      const entry = reply.then((answer) => {
        const part = (answer.parts || []).find((p) => p.part_number === n);
        if (!part) throw new Error(t("upload.error_part", { part: n }));
        return part;
      });
      entry.catch(() => plan.parts.delete(n));
      plan.parts.set(n, entry);
    }
    return plan.parts.get(partNumber);
  }

  async function complete(file) {
    const plan = planOf(file);
    const reply = await api.call("POST", `${API}/uploads/${encodeURIComponent(plan.uploadId)}/complete`, { body: {} });
    if (reply.status === "VIDEO_STATUS_FAILED" || reply.status === "VIDEO_STATUS_PENDING_UPLOAD") {
      const upload = await api.call("GET", `${API}/uploads/${encodeURIComponent(plan.uploadId)}`);
      throw new Error(upload.error_reason || t(`status.${reply.status}`));
    }
    plan.completed = true;
  }

  // ---- what the API answers for a chosen file: a new upload, or one to resume -----------------

  async function pendingUploads() {
    const found = [];
    const page = await api.call("GET", `${API}/videos`, { query: { course_id: courseId, page_size: 100 } });
    for (const video of page.videos || []) {
      if (video.status === "VIDEO_STATUS_PENDING_UPLOAD" && video.owner_id === userId && video.upload_id) found.push(video);
    }
    return found;
  }

  async function resumable(file, pending) {
    for (const video of await pending) {
      if (resumedIds.has(video.upload_id)) continue;
      const upload = await api.call("GET", `${API}/uploads/${encodeURIComponent(video.upload_id)}`);
      if (upload.method === MULTIPART && upload.filename === file.name && Number(upload.file_size) === file.size) {
        resumedIds.add(video.upload_id);
        return upload;
      }
    }
    return null;
  }

  async function plan(file, pending) {
    const earlier = await resumable(file, pending);
    if (earlier) {
      const plan = { uploadId: earlier.upload_id, videoId: earlier.video_id, method: MULTIPART, parts: new Map(), resumed: true };
      // The part size is not in GetUpload: part 1's presigned size says it (and is used soon).
      const first = await api.call("POST", `${API}/uploads/${encodeURIComponent(plan.uploadId)}/parts`, {
        body: { part_numbers: [1] },
      });
      plan.partSize = Number(first.parts[0].size);
      plan.partCount = Math.ceil(file.size / plan.partSize);
      plan.parts.set(1, Promise.resolve(first.parts[0]));
      return plan;
    }
    const created = await api.call("POST", `${API}/presigned-upload`, {
      body: { filename: file.name, content_type: file.type, file_size: file.size, course_id: courseId },
    });
    return {
      uploadId: created.upload_id,
      videoId: created.video_id,
      method: created.method,
      url: created.url,
      fields: created.fields || {},
      partSize: Number(created.part_size) || file.size,
      partCount: created.part_count || 1,
      parts: new Map(),
      resumed: false,
    };
  }

  // ---- the list of files and what happens to each ---------------------------------------------

  function row(file) {
    const node = template.content.firstElementChild.cloneNode(true);
    node.querySelector(".upload-name").textContent = file.name;
    const bar = node.querySelector("progress");
    bar.setAttribute("aria-label", t("upload.progress_label", { name: file.name }));
    list.prepend(node);
    const state = node.querySelector(".upload-state");
    const error = node.querySelector(".error-text");
    return {
      node,
      progress(percent) {
        bar.value = percent;
        state.textContent = t("upload.sending", { percent });
      },
      state(text, status) {
        node.dataset.state = status;
        state.textContent = text;
      },
      fail(text) {
        node.dataset.state = "failed";
        error.textContent = t("upload.error", { message: text });
        error.hidden = false;
        state.textContent = "";
      },
    };
  }

  async function add(files) {
    const chosen = [...files];
    if (!chosen.length) return;
    const pending = pendingUploads().catch(() => []);
    await Promise.all(
      chosen.map(async (file) => {
        const item = row(file);
        item.state(t("upload.preparing"), "preparing");
        try {
          const answer = await plan(file, pending);
          plans.set(file, answer);
          const id = uppy.addFile({ name: file.name, type: file.type, data: file, source: "local" });
          rows.set(id, item);
          item.node.dataset.uploadId = answer.uploadId;
          if (answer.resumed) {
            uppy.setFileState(id, { s3Multipart: { uploadId: answer.uploadId, key: answer.uploadId } });
            item.state(t("upload.resuming"), "uploading");
          } else item.state(t("upload.sending", { percent: 0 }), "uploading");
        } catch (error) {
          item.fail(words(error));
        }
      }),
    );
    if (uppy.getFiles().some((file) => !file.progress.uploadStarted)) uppy.upload().catch(() => {});
  }

  uppy.on("upload-progress", (file, progress) => {
    const item = rows.get(file.id);
    if (item && progress.bytesTotal) item.progress(Math.floor((100 * progress.bytesUploaded) / progress.bytesTotal));
  });
  uppy.on("upload-success", async (file) => {
    const item = rows.get(file.id);
    const plan = planOf(file);
    try {
      if (!plan.completed) await complete(file);
      item.progress(100);
      item.state(t("upload.sent"), "sent");
      const reply = await api.call("GET", `${API}/videos/${encodeURIComponent(plan.videoId)}`);
      onVideo(reply.video);
    } catch (error) {
      item.fail(words(error));
    } finally {
      uppy.removeFile(file.id);
      rows.delete(file.id);
    }
  });
  uppy.on("upload-error", (file, error) => {
    const item = file && rows.get(file.id);
    if (!item) return;
    const fromStore = error && error.source && typeof error.source.status === "number";
    item.fail(fromStore ? t("upload.error_store", { status: error.source.status }) : words(error));
    uppy.removeFile(file.id);
    rows.delete(file.id);
  });

  choose.addEventListener("click", () => input.click());
  choose.disabled = false; // rendered disabled: usable once this (lazily loaded) script is wired
  input.addEventListener("change", () => {
    add(input.files);
    input.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    add(event.dataTransfer.files);
  });
  return uppy;
}
