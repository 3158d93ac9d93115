// The pushed model in the browser: draw or drop an image, see the class probabilities.
// Images are prepared as `python -m image_tfx.tools.predict` prepares them (tools/predict.py):
// for a digit-style model (its card says preparation "mnist") grayscale, the background level
// removed and the contrast stretched, light strokes on dark, fitted into 20x20 keeping the
// aspect ratio, centred by centre of mass in 28x28; for any other model the image is resized
// to the model's height and width, in gray or colour as the model takes it.
'use strict';

const SIDE = 28;
const BOX = 20;
const state = { model: null, inputName: null, probabilitiesName: null, classes: [],
                dims: [SIDE, SIDE], preparation: 'mnist' };
const height = () => state.dims[0];
const width = () => state.dims[1];
const channels = () => (state.dims.length === 3 ? state.dims[2] : 1);
const imageSize = () => height() * width() * channels();

// --- preparing an image ---------------------------------------------------------------------

// Grayscale (ITU-R 601-2 luma, as Pillow's 'L'), transparent areas over white.
function toGray(imageData) {
  const { data, width, height } = imageData;
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    const a = data[4 * i + 3] / 255;
    const luma = (data[4 * i] * 299 + data[4 * i + 1] * 587 + data[4 * i + 2] * 114) / 1000;
    gray[i] = a * luma + (1 - a) * 255;
  }
  return { gray, width, height };
}

function resize(gray, width, height, newWidth, newHeight) {
  const source = document.createElement('canvas');
  source.width = width; source.height = height;
  const pixels = new ImageData(width, height);
  for (let i = 0; i < gray.length; i++) {
    const v = Math.max(0, Math.min(255, Math.round(gray[i])));
    pixels.data.set([v, v, v, 255], 4 * i);
  }
  source.getContext('2d').putImageData(pixels, 0, 0);
  const target = document.createElement('canvas');
  target.width = newWidth; target.height = newHeight;
  const context = target.getContext('2d');
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, newWidth, newHeight);
  const out = context.getImageData(0, 0, newWidth, newHeight).data;
  const result = new Float32Array(newWidth * newHeight);
  for (let i = 0; i < result.length; i++) result[i] = out[4 * i];
  return result;
}

// The value below which `share` of the values lie.
function quantile(values, share) {
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
}

// A grayscale image (0-255, any size) as MNIST-style Uint8Array [28 * 28].
function mnistStyle({ gray, width, height }) {
  const edge = [];
  for (let x = 0; x < width; x++) edge.push(gray[x], gray[(height - 1) * width + x]);
  for (let y = 0; y < height; y++) edge.push(gray[y * width], gray[y * width + width - 1]);
  if (quantile(edge, 0.5) > 127.5) gray = gray.map((v) => 255 - v); // dark strokes on light: invert
  // A photo's paper is not black once inverted: take its level away and stretch what is left
  // (the strokes) to the full range, as predict.py does.
  const background = quantile(gray, 0.5);
  const top = quantile(gray, 0.99);
  if (top - background > 8) {
    gray = gray.map((v) => Math.max(0, Math.min(255, 255 * (v - background) / (top - background))));
  }
  const image = new Uint8Array(SIDE * SIDE);
  let max = 0;
  for (const v of gray) max = Math.max(max, v);
  if (max <= 0) return image;
  let first = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (gray[y * width + x] > 0.2 * max) {
        first = Math.min(first, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  if (bottom < 0) return image;
  const cropWidth = right - left + 1, cropHeight = bottom - first + 1;
  const crop = new Float32Array(cropWidth * cropHeight);
  for (let y = 0; y < cropHeight; y++) {
    for (let x = 0; x < cropWidth; x++) crop[y * cropWidth + x] = gray[(first + y) * width + left + x];
  }
  const scale = BOX / Math.max(cropWidth, cropHeight);
  const h = Math.max(1, Math.round(cropHeight * scale)), w = Math.max(1, Math.round(cropWidth * scale));
  const patch = resize(crop, cropWidth, cropHeight, w, h);
  let total = 0, cy = 0, cx = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) { const v = patch[y * w + x]; total += v; cy += y * v; cx += x * v; }
  }
  [cy, cx] = total ? [cy / total, cx / total] : [h / 2, w / 2];
  const row = Math.min(Math.max(Math.round(SIDE / 2 - cy), 0), SIDE - h);
  const col = Math.min(Math.max(Math.round(SIDE / 2 - cx), 0), SIDE - w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      image[(row + y) * SIDE + col + x] = Math.max(0, Math.min(255, Math.round(patch[y * w + x])));
    }
  }
  return image;
}

// Any image (RGBA ImageData) resized to the model's height and width: Uint8Array H * W * C.
function resized(imageData) {
  const source = document.createElement('canvas');
  source.width = imageData.width; source.height = imageData.height;
  source.getContext('2d').putImageData(imageData, 0, 0);
  const target = document.createElement('canvas');
  target.width = width(); target.height = height();
  const context = target.getContext('2d');
  context.fillStyle = '#fff'; // transparent areas over white, as predict.py
  context.fillRect(0, 0, target.width, target.height);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, target.width, target.height);
  const rgba = context.getImageData(0, 0, target.width, target.height).data;
  const out = new Uint8Array(imageSize());
  for (let i = 0; i < target.width * target.height; i++) {
    if (channels() === 3) out.set([rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]], 3 * i);
    else out[i] = Math.round((rgba[4 * i] * 299 + rgba[4 * i + 1] * 587 + rgba[4 * i + 2] * 114) / 1000);
  }
  return out;
}

// --- the model ------------------------------------------------------------------------------

// Probabilities [n, classes] for n images (Uint8Array n * H * W * C); TF.js has no uint8: int32.
function probabilities(pixels, n) {
  return tf.tidy(() => {
    const images = tf.tensor(Int32Array.from(pixels), [n, ...state.dims], 'int32');
    return state.model.execute({ [state.inputName]: images }, state.probabilitiesName);
  });
}

function classify(image) {
  const output = probabilities(image, 1);
  const values = Array.from(output.dataSync());
  output.dispose();
  return values;
}

async function loadModel() {
  await tf.ready();
  state.model = await tf.loadGraphModel('model/model.json');
  const signature = state.model.modelSignature;
  state.inputName = signature.inputs.images.name;
  state.probabilitiesName = signature.outputs.probabilities.name;
  // [-1, H, W] (grayscale) or [-1, H, W, C]: the model's own image size.
  state.dims = signature.inputs.images.tensorShape.dim.slice(1).map((d) => Number(d.size));
  const response = await fetch('model_card.json');
  const card = response.ok ? await response.json() : {};
  state.classes = card.classes || Array.from({ length: 10 }, (_, i) => String(i));
  state.preparation = card.preparation ||
    (channels() === 1 && height() === SIDE && width() === SIDE ? 'mnist' : 'resize');
  const prepared = document.getElementById('prepared');
  prepared.width = width(); prepared.height = height();
  classify(new Uint8Array(imageSize())); // the first call compiles; do it before a person waits
  const accuracy = card.formats && card.formats.saved_model && card.formats.saved_model.accuracy;
  document.getElementById('model-info').textContent = card.version
    ? `Model version ${card.version}` +
      (accuracy !== undefined ? `, accuracy ${(100 * accuracy).toFixed(1)}% on ${card.evaluated_on.examples} ${card.evaluated_on.split} images` : '')
    : 'Model loaded (no model card)';
  document.getElementById('status').textContent =
    `TensorFlow.js ${tf.version.tfjs}, backend: ${tf.getBackend()}`;
  showBars(null);
  document.body.dataset.ready = 'true';
}

// --- the page -------------------------------------------------------------------------------

function showBars(values) {
  const bars = document.getElementById('bars');
  bars.replaceChildren();
  const best = values ? values.indexOf(Math.max(...values)) : -1;
  state.classes.forEach((name, i) => {
    const p = values ? values[i] : 0;
    const item = document.createElement('li');
    if (i === best) item.className = 'best';
    item.innerHTML = '<span class="name"></span><span class="bar"><span class="fill"></span></span><span class="value"></span>';
    item.querySelector('.name').textContent = name;
    item.querySelector('.fill').style.width = `${(100 * p).toFixed(1)}%`;
    item.querySelector('.value').textContent = values ? p.toFixed(3) : '';
    bars.appendChild(item);
  });
  document.getElementById('prediction').textContent = values
    ? `It is ${state.classes[best]} (${(100 * values[best]).toFixed(1)}%)`
    : (state.preparation === 'mnist' ? 'Draw a digit.' : 'Choose or drop an image.');
  if (values) document.body.dataset.predictions = String(Number(document.body.dataset.predictions || 0) + 1);
}

function showPrepared(image) {
  const pixels = new ImageData(width(), height());
  for (let i = 0; i < width() * height(); i++) {
    pixels.data.set(channels() === 3 ? [image[3 * i], image[3 * i + 1], image[3 * i + 2], 255]
      : [image[i], image[i], image[i], 255], 4 * i);
  }
  document.getElementById('prepared').getContext('2d').putImageData(pixels, 0, 0);
}

function predictFrom(imageData) {
  const image = state.preparation === 'mnist' ? mnistStyle(toGray(imageData)) : resized(imageData);
  showPrepared(image);
  showBars(classify(image));
}

function setUpPad() {
  const pad = document.getElementById('pad');
  const context = pad.getContext('2d');
  const clear = () => {
    context.fillStyle = '#000';
    context.fillRect(0, 0, pad.width, pad.height);
    showPrepared(new Uint8Array(imageSize()));
    showBars(null);
  };
  clear();
  let drawing = false;
  const point = (event) => {
    const box = pad.getBoundingClientRect();
    return [(event.clientX - box.left) * pad.width / box.width,
            (event.clientY - box.top) * pad.height / box.height];
  };
  pad.addEventListener('pointerdown', (event) => {
    drawing = true;
    pad.setPointerCapture(event.pointerId);
    context.strokeStyle = '#fff';
    context.lineWidth = 20;
    context.lineCap = context.lineJoin = 'round';
    context.beginPath();
    context.moveTo(...point(event));
  });
  pad.addEventListener('pointermove', (event) => {
    if (!drawing) return;
    context.lineTo(...point(event));
    context.stroke();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    predictFrom(context.getImageData(0, 0, pad.width, pad.height));
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  document.getElementById('clear').addEventListener('click', clear);

  const open = async (file) => {
    try {
      // Upright as its EXIF orientation says, as predict and ExampleGen read it (a phone's photo);
      // a browser without the option applies the orientation by default.
      let bitmap;
      try {
        bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
      } catch (e) {
        bitmap = await createImageBitmap(file);
      }
      const scale = Math.min(1, 1000 / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      const c = canvas.getContext('2d');
      c.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      // Show it on the pad, fitted, then classify the image itself (not the pad's copy).
      const fit = Math.min(pad.width / canvas.width, pad.height / canvas.height);
      context.fillStyle = '#000';
      context.fillRect(0, 0, pad.width, pad.height);
      context.drawImage(canvas, (pad.width - canvas.width * fit) / 2,
        (pad.height - canvas.height * fit) / 2, canvas.width * fit, canvas.height * fit);
      predictFrom(c.getImageData(0, 0, canvas.width, canvas.height));
    } catch (error) {
      document.getElementById('prediction').innerHTML = '';
      const message = document.createElement('span');
      message.className = 'error';
      message.textContent = `${file.name}: not an image this browser can read`;
      document.getElementById('prediction').appendChild(message);
    }
  };
  document.getElementById('file').addEventListener('change', (event) => {
    if (event.target.files.length) open(event.target.files[0]);
  });
  pad.addEventListener('dragover', (event) => { event.preventDefault(); pad.classList.add('dragover'); });
  pad.addEventListener('dragleave', () => pad.classList.remove('dragover'));
  pad.addEventListener('drop', (event) => {
    event.preventDefault();
    pad.classList.remove('dragover');
    if (event.dataTransfer.files.length) open(event.dataTransfer.files[0]);
  });
}

// --- the pipeline's check -------------------------------------------------------------------

// Classes of the images in `pixelsUrl` (uint8, n x H x W x C) against `expectedUrl` (JSON list of the
// SavedModel's classes), and the single-image latency: what the pipeline records.
async function check(pixelsUrl, expectedUrl, runs = 50) {
  const pixels = new Uint8Array(await (await fetch(pixelsUrl)).arrayBuffer());
  const expected = await (await fetch(expectedUrl)).json();
  const n = expected.length;
  let agree = 0;
  for (let start = 0; start < n; start += 256) {
    const size = Math.min(256, n - start);
    const classes = tf.tidy(() => probabilities(
      pixels.subarray(start * imageSize(), (start + size) * imageSize()), size).argMax(-1));
    const values = classes.dataSync();
    classes.dispose();
    values.forEach((c, i) => { if (c === expected[start + i]) agree += 1; });
  }
  const one = pixels.subarray(0, imageSize());
  classify(one);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    classify(one);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { examples: n, agreement: n ? agree / n : 0, latency_ms: times[Math.floor(runs / 2)],
           backend: tf.getBackend(), tfjs_version: tf.version.tfjs };
}

window.imageTfx = { check, mnistStyle, resized, toGray, classify, state };

setUpPad();
loadModel().catch((error) => {
  const info = document.getElementById('model-info');
  info.className = 'error';
  info.textContent = `The model could not be loaded: ${error.message}`;
  console.error(error);
  document.body.dataset.ready = 'error';
});
