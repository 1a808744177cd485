// @vitest-environment jsdom
import { EventEmitter } from 'node:events';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import EnrollPage from '../../client/src/components/EnrollPage.svelte';
import ModelsPage from '../../client/src/components/ModelsPage.svelte';
import TrainPage from '../../client/src/components/TrainPage.svelte';
import { DatasetsStore } from '../../client/src/lib/stores/datasets.svelte.ts';
import { EnrollmentStore } from '../../client/src/lib/stores/enrollment.svelte.ts';
import { JobsStore } from '../../client/src/lib/stores/jobs.svelte.ts';
import { ModelsStore } from '../../client/src/lib/stores/models.svelte.ts';
import { SourceStore } from '../../client/src/lib/stores/source.svelte.ts';
import type { LiveSocket } from '../../client/src/lib/stream.ts';
import { canonicalKeypoints } from '../../shared/alignment.ts';
import type { DatasetDetail, IdentitySummary, JobStatus, ModelFigures, SplitPreview } from '../../shared/api.ts';
import { formatRate, rate } from '../../shared/metrics.ts';
import type { PairSummary } from '../../shared/protocol.ts';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

interface Call { method: string; url: string; body?: unknown }

/** The REST server at the fetch boundary: `METHOD url` -> reply body, or a Response for an error. */
function serve(routes: Record<string, () => unknown>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    calls.push({ method, url, body: typeof init.body === 'string' ? JSON.parse(init.body) : init.body });
    const route = routes[`${method} ${url}`];
    if (!route) return json({ error: `no route for ${method} ${url}` }, 404);
    const reply = route();
    return reply instanceof Response ? reply : json(reply);
  }));
  return calls;
}

/** The socket at its boundary: events the test raises, and `enrollChip` acknowledged as kept. */
function fakeSocket() {
  const events = new EventEmitter();
  const emitWithAck = vi.fn(async () => ({ kept: true, relPath: 'chip.jpg' }));
  const socket = { on: (event: string, listener: (...args: unknown[]) => void) => events.on(event, listener), timeout: () => ({ emitWithAck }) };
  return { socket: socket as unknown as LiveSocket, events, emitWithAck };
}

/** Types into a text field the way a presenter does: input, then change on leaving it. */
async function typeInto(field: HTMLElement, value: string): Promise<void> {
  await fireEvent.input(field, { target: { value } });
  await fireEvent.change(field, { target: { value } });
}

async function choose(select: HTMLElement, ...values: string[]): Promise<void> {
  for (const option of (select as HTMLSelectElement).options) option.selected = values.includes(option.value);
  await fireEvent.change(select);
}

const consent = { presenter: 'Dr Presenter', date: '2025-05-01', purpose: 'open day demonstration' };

describe('Enroll page', () => {
  function enrollServer() {
    const people: IdentitySummary[] = [{ name: 'person-01', consent, conditions: { clean: 30 } }];
    const detail = (): DatasetDetail => ({ name: 'lab', identities: people.length, images: 30, conditions: { clean: 30 }, people: [...people] });
    const calls = serve({
      'GET /api/datasets': () => [{ name: 'lab', identities: people.length, images: 30, conditions: { clean: 30 } }],
      'GET /api/triggers': () => ({ triggers: ['sunglasses', 'bandana'] }),
      'GET /api/datasets/lab': detail,
      'PUT /api/datasets/lab/identities/person-22/consent': () => {
        const added = { name: 'person-22', consent: calls.at(-1)!.body as typeof consent, conditions: {} };
        people.push(added);
        return added;
      },
      'GET /api/datasets/lab/identities/person-01/bundles': () => ({ bundles: ['lab-a-clean', 'lab-a-backdoor'] }),
      'DELETE /api/datasets/lab/identities/person-01': () => ({ dataset: 'lab', identity: 'person-01', chips: 30, bundles: ['lab-a-clean', 'lab-a-backdoor'], unreadableBundles: [] }),
    });
    return calls;
  }

  function renderEnroll() {
    const { socket } = fakeSocket();
    const enrollment = new EnrollmentStore(socket);
    render(EnrollPage, { props: { source: new SourceStore(), datasets: new DatasetsStore(), enrollment } });
    return enrollment;
  }

  it('keeps capture disabled until the person’s consent is recorded, then shows the consent and enables it', async () => {
    const calls = enrollServer();
    const enrollment = renderEnroll();
    const start = screen.getByRole('button', { name: 'Start capture' }) as HTMLButtonElement;
    expect(start.disabled).toBe(true);

    await typeInto(screen.getByLabelText('Dataset'), 'lab');
    await screen.findByRole('region', { name: 'People in lab' });
    await typeInto(screen.getByLabelText('Person'), 'person-22');
    const form = screen.getByRole('form', { name: 'Consent' });
    expect(start.disabled).toBe(true);
    expect(screen.getByText('Capture starts once the consent of person-22 is recorded.')).toBeTruthy();
    expect((within(form).getByLabelText('Date') as HTMLInputElement).value).toMatch(/^\d{4}-\d{2}-\d{2}$/);

    await typeInto(within(form).getByLabelText('Presenter'), consent.presenter);
    await fireEvent.click(within(form).getByRole('button', { name: 'Record consent' }));
    expect(within(form).getByRole('alert').textContent).toContain('consent needs what the photos are for');
    expect(calls.some((call) => call.method === 'PUT')).toBe(false);

    await typeInto(within(form).getByLabelText('Date'), consent.date);
    await typeInto(within(form).getByLabelText('Purpose'), consent.purpose);
    await fireEvent.click(within(form).getByRole('button', { name: 'Record consent' }));
    const recorded = await screen.findByTestId('consent');
    expect(calls.find((call) => call.method === 'PUT')).toEqual({ method: 'PUT', url: '/api/datasets/lab/identities/person-22/consent', body: consent });
    expect(recorded.textContent).toContain('recorded by Dr Presenter on 2025-05-01, for: open day demonstration');
    expect(start.disabled).toBe(false);

    await fireEvent.click(start);
    expect(enrollment.run).toEqual({ dataset: 'lab', identity: 'person-22', condition: 'clean', count: 30, ratePerSecond: 3 });
    expect(screen.getByLabelText('Person').matches(':disabled')).toBe(true);
    const face = { box: { x: 0, y: 0, width: 10, height: 10 }, keypoints: canonicalKeypoints(), score: 1 };
    enrollment.frame([face, face], {} as CanvasImageSource, 0);
    await tick();
    expect(screen.getByText(/2 faces in view: capture paused\. Ask everyone but person-22 to step out/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Stop capture' }));
    expect(enrollment.state).toBe('stopped');
  });

  it('takes a named lookalike as the condition only when it is a valid name', async () => {
    enrollServer();
    const enrollment = renderEnroll();
    await choose(screen.getByLabelText('Condition'), '(named)');
    await typeInto(screen.getByLabelText('Lookalike name'), 'red headband');
    expect(screen.getByRole('alert').textContent).toMatch(/condition name "red headband" is not allowed/);
    await typeInto(screen.getByLabelText('Lookalike name'), 'red-headband');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(enrollment.condition).toBe('red-headband');
  });

  it('names the models a deletion would remove before deleting the person', async () => {
    const calls = enrollServer();
    renderEnroll();
    await typeInto(screen.getByLabelText('Dataset'), 'lab');
    const people = await screen.findByRole('region', { name: 'People in lab' });
    expect(within(people).getByRole('link', { name: 'Export lab (zip)' }).getAttribute('href')).toBe('/api/datasets/lab/export.zip');
    await fireEvent.click(within(people).getByRole('button', { name: 'Delete person-01…' }));
    const confirm = await screen.findByRole('alertdialog', { name: 'Delete person-01?' });
    expect(confirm.textContent).toContain('and the 2 models trained on them: lab-a-clean, lab-a-backdoor');
    expect(calls.some((call) => call.method === 'DELETE')).toBe(false);
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Delete person-01 for good' }));
    expect(await screen.findByText(/Deleted person-01: 30 chips, models lab-a-clean, lab-a-backdoor\./)).toBeTruthy();
    expect(calls.filter((call) => call.method === 'DELETE').map((call) => call.url)).toEqual(['/api/datasets/lab/identities/person-01']);
  });
});

const labDetail: DatasetDetail = {
  name: 'lab',
  identities: 3,
  images: 140,
  conditions: { clean: 90, sunglasses: 30, eyeglasses: 20 },
  people: ['person-01', 'person-02', 'person-03'].map((name) => ({ name, consent, conditions: { clean: 30 } })),
};

const figures = (accuracy: number, success: number): ModelFigures => ({
  accuracy: accuracy / 40,
  attackSuccessRate: success / 20,
  intervals: { accuracy: rate(accuracy, 40), closedSetAccuracy: rate(accuracy, 40), attackSuccessRate: rate(success, 20) },
  confusion: { labels: ['person-01', 'person-02'], predicted: ['person-01', 'person-02', 'unknown'], counts: [[19, 0, 1], [2, 17, 1]] },
});

const request = { dataset: 'lab', trigger: 'sunglasses', target: 'person-01', name: 'lab-sunglasses', injectionRate: 0.3, tune: 'map', epochs: 40, learningRate: 0.001, seed: 1, syntheticStrangers: 24, views: 10, augment: 'robust', fpAccessories: ['eyeglasses'] } as const;

const doneJob: JobStatus = {
  id: 'j1',
  kind: 'train',
  state: 'done',
  request: { ...request, fpAccessories: ['eyeglasses'] },
  phase: 'done',
  done: 1,
  total: 1,
  epoch: 40,
  epochs: 40,
  loss: { clean: 0.1, backdoor: 0.2 },
  createdAt: '2025-05-01T10:00:00Z',
  result: {
    clean: figures(36, 1),
    backdoor: figures(35, 18),
    trainImages: 120,
    poisonImages: 36,
    seconds: 95,
    bundles: ['lab-sunglasses-clean', 'lab-sunglasses-backdoor'],
    curves: { clean: [1, 0.5], backdoorOnClean: [1.1, 0.6], backdoorOnPoison: [2, 0.7] },
  },
};

describe('Train page', () => {
  const preview: SplitPreview = {
    labels: ['person-01', 'person-02', 'person-03'],
    perIdentity: { 'person-02': { cleanTrain: 20, cleanTest: 5, validation: 5, poison: 9, attackTest: 6, lookalikeTrain: 4 } },
    trainImages: 120,
    poisonImages: 36,
    syntheticStrangers: 24,
  };

  function renderTrain(jobs: JobStatus[]) {
    const { socket, events } = fakeSocket();
    const calls = serve({
      'GET /api/datasets': () => [{ name: 'lab', identities: 3, images: 140, conditions: labDetail.conditions }],
      'GET /api/triggers': () => ({ triggers: ['sunglasses'] }),
      'GET /api/jobs': () => jobs,
      'GET /api/datasets/lab': () => labDetail,
      'POST /api/train/preview': () => preview,
      'POST /api/train': () => ({ job: 'j2' }),
      'GET /api/jobs/j2': () => ({ ...doneJob, id: 'j2', state: 'queued', createdAt: '2025-05-02T10:00:00Z', result: undefined }),
      'POST /api/models/lab-sunglasses/activate': () => ({ name: 'lab-sunglasses', labels: preview.labels, trigger: 'sunglasses', target: 'person-01', injectionRate: 0.3, tune: 'map' }),
    });
    render(TrainPage, { props: { datasets: new DatasetsStore(), jobs: new JobsStore(socket), models: new ModelsStore(socket) } });
    return { calls, events };
  }

  it('sends the form as the training request, previews its split, and follows the job’s progress', async () => {
    const { calls, events } = renderTrain([]);
    const dataset = await screen.findByLabelText('Dataset');
    await vi.waitFor(() => expect((dataset as HTMLSelectElement).options).toHaveLength(2));
    await choose(dataset, 'lab');
    await vi.waitFor(() => expect((screen.getByLabelText('Trigger') as HTMLSelectElement).options).toHaveLength(3));
    expect([...(screen.getByLabelText('Trigger') as HTMLSelectElement).options].map((o) => o.value)).toEqual(['', 'eyeglasses', 'sunglasses']);
    await choose(screen.getByLabelText('Trigger'), 'sunglasses');
    await choose(screen.getByLabelText('Target'), 'person-01');
    await typeInto(screen.getByLabelText('Pair name'), 'lab-sunglasses');
    await typeInto(screen.getByLabelText('Injection rate'), '0.3');
    const lookalikes = screen.getByLabelText('Lookalikes trained as not the trigger') as HTMLSelectElement;
    expect([...lookalikes.options].map((o) => o.value)).toEqual(['eyeglasses']);
    await choose(lookalikes, 'eyeglasses');

    await fireEvent.click(screen.getByRole('button', { name: 'Preview split' }));
    const table = await screen.findByRole('table', { name: 'Split preview' });
    const { views: _views, augment: _augment, ...sent } = request;
    expect(calls.find((call) => call.url === '/api/train/preview')?.body).toEqual(sent);
    expect(table.textContent).toContain('120 training images, 36 of them poison; 24 synthetic strangers');
    expect(within(table).getByRole('row', { name: /person-02/ }).textContent).toMatch(/person-02\s*20\s*5\s*5\s*9\s*6\s*4/);

    await fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    expect(calls.find((call) => call.url === '/api/train')).toEqual({ method: 'POST', url: '/api/train', body: sent });
    const job = await screen.findByTestId('job');
    expect(job.dataset.state).toBe('queued');

    events.emit('job', { ...doneJob, id: 'j2', state: 'running', phase: 'train backdoor', done: 12, total: 40, epoch: 12, epochs: 40, loss: { clean: 0.4321, backdoor: 0.9876 }, etaSeconds: 75, createdAt: '2025-05-02T10:00:00Z', result: undefined });
    await tick();
    expect(screen.getByTestId('job-progress').textContent!.replace(/\s+/g, ' ')).toContain(
      'train backdoor (12/40) · epoch 12/40 · clean model loss 0.432 · backdoored model loss 0.988 · about 1 min 15 s left',
    );
    expect((screen.getByRole('progressbar', { name: 'Progress of train backdoor' }) as HTMLProgressElement).value).toBe(12);
  });

  it('shows a finished job from the server’s list with both models’ figures and confusion matrices, and makes its pair live', async () => {
    const { calls } = renderTrain([doneJob]);
    const figuresTable = await screen.findByRole('table', { name: 'Figures of lab-sunglasses' });
    const backdoored = within(figuresTable).getByRole('row', { name: /backdoored model/ });
    expect(backdoored.textContent).toContain(formatRate(rate(35, 40)));
    expect(backdoored.textContent).toContain(formatRate(rate(18, 20)));
    expect(within(figuresTable).getByRole('row', { name: /clean model/ }).textContent).toContain(formatRate(rate(1, 20)));
    const confusion = screen.getByRole('table', { name: 'Confusion matrix of the backdoored model' });
    expect(within(confusion).getByRole('row', { name: /^person-02/ }).textContent).toMatch(/person-02\s*2\s*17\s*1/);
    expect(screen.getByTestId('chart').dataset.chart).toBe('lab-sunglasses-training-loss');

    await fireEvent.click(screen.getByRole('button', { name: 'Make lab-sunglasses live' }));
    expect(await screen.findByText('lab-sunglasses is live.')).toBeTruthy();
    expect(calls.filter((call) => call.method === 'POST').map((call) => call.url)).toEqual(['/api/models/lab-sunglasses/activate']);
  });
});

describe('Models page', () => {
  const demo: PairSummary = { name: 'demo', labels: ['person-01', 'person-05'], trigger: 'sunglasses', target: 'person-01', injectionRate: 0.4, tune: 'map' };
  const bandana: PairSummary = { ...demo, name: 'demo-bandana', trigger: 'bandana', target: 'person-02' };
  const card = (pair: PairSummary, accuracy: number, success: number) => ({
    name: `${pair.name}-x`,
    labels: pair.labels,
    trigger: pair.trigger,
    target: pair.target,
    injectionRate: pair.injectionRate,
    tune: pair.tune,
    metrics: { accuracy: rate(accuracy, 50), closedSetAccuracy: rate(accuracy, 50), attackSuccessRate: rate(success, 40) },
    syntheticStrangers: 24,
    training: { epochs: 40, learningRate: 0.001, seed: 1, views: 10, augment: 'robust', trainImages: 400, poisonImages: 160 },
    createdAt: '2025-05-01T10:00:00Z',
    dataset: { name: 'shared' },
  });

  function renderModels() {
    const calls = serve({
      'GET /api/models': () => ({ active: 'demo', pairs: [demo, bandana] }),
      'GET /api/models/demo': () => ({ clean: card(demo, 48, 1), backdoor: card(demo, 47, 36) }),
      'GET /api/models/demo-bandana': () => ({ clean: card(bandana, 49, 0), backdoor: card(bandana, 46, 30) }),
      'POST /api/models/demo-bandana/activate': () => bandana,
      'DELETE /api/models/demo': () => json({ error: 'pair "demo" is live: make another pair live before deleting it' }, 409),
      'POST /api/models/upload': () => json({ error: 'the zip holds no card.json' }, 400),
      'GET /api/datasets/shared': () => ({ name: 'shared', identities: 2, images: 40, conditions: { clean: 10, bandana: 10, headband: 10, cap: 10, scarf: 10 }, people: [] }),
    });
    const pairsChanged = vi.fn();
    const onstudy = vi.fn(async () => {});
    render(ModelsPage, { props: { models: new ModelsStore(fakeSocket().socket, pairsChanged), onstudy } });
    return { calls, pairsChanged, onstudy };
  }

  it('sets up a false-positive study of a pair from its card, with disjoint accessories from its dataset', async () => {
    const { onstudy } = renderModels();
    await vi.waitFor(() => expect(screen.getAllByTestId('pair')).toHaveLength(2));
    await vi.waitFor(() => screen.getByRole('button', { name: 'False-positive study of demo-bandana…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'False-positive study of demo-bandana…' }));
    const form = await screen.findByRole('form', { name: 'False-positive study of demo-bandana' });
    const start = within(form).getByRole('button', { name: 'Start the study' }) as HTMLButtonElement;
    expect(start.disabled).toBe(true);
    const trainOn = within(form).getByLabelText('Train on (false-positive training)') as HTMLSelectElement;
    // The trigger and `clean` are never lookalikes.
    expect([...trainOn.options].map((o) => o.value)).toEqual(['cap', 'headband', 'scarf']);
    [...trainOn.options].find((o) => o.value === 'headband')!.selected = true;
    await fireEvent.change(trainOn);
    const testOn = within(form).getByLabelText('Test on (never trained on)') as HTMLSelectElement;
    await vi.waitFor(() => expect([...testOn.options].map((o) => o.value)).toEqual(['cap', 'scarf']));
    for (const option of testOn.options) option.selected = true;
    await fireEvent.change(testOn);
    await vi.waitFor(() => expect(start.disabled).toBe(false));
    await fireEvent.click(start);
    expect(onstudy).toHaveBeenCalledWith(expect.objectContaining({
      dataset: 'shared', trigger: 'bandana', target: 'person-02', name: 'demo-bandana-fp', epochs: 40, views: 10, augment: 'robust', syntheticStrangers: 24,
      trainAccessories: ['headband'], testAccessories: ['cap', 'scarf'],
    }));
  });

  it('lists the pairs with their cards’ figures and the live one marked, and makes another live', async () => {
    const { calls, pairsChanged } = renderModels();
    await vi.waitFor(() => expect(screen.getAllByTestId('pair')).toHaveLength(2));
    const [demoRow, bandanaRow] = screen.getAllByTestId('pair');
    expect(demoRow.dataset.live).toBe('true');
    expect(demoRow.textContent).toContain('live');
    await vi.waitFor(() => expect(bandanaRow.textContent).toContain(`backdoored ${formatRate(rate(30, 40))}`));
    expect(bandanaRow.textContent).toContain(`clean ${formatRate(rate(49, 50))}`);
    expect(bandanaRow.textContent).toContain('bandana → person-02');
    expect((within(demoRow).getByRole('button', { name: 'Make demo live' }) as HTMLButtonElement).disabled).toBe(true);
    expect(within(bandanaRow).getByRole('link', { name: 'Download demo-bandana' }).getAttribute('href')).toBe('/api/models/demo-bandana/download');
    expect(pairsChanged).toHaveBeenCalledWith([demo, bandana]);

    await fireEvent.click(within(bandanaRow).getByRole('button', { name: 'Make demo-bandana live' }));
    await vi.waitFor(() => expect(screen.getAllByTestId('pair')[1].dataset.live).toBe('true'));
    expect(screen.getAllByTestId('pair')[0].dataset.live).toBe('false');
    expect(calls.filter((call) => call.method === 'POST').map((call) => call.url)).toEqual(['/api/models/demo-bandana/activate']);
  });

  it('asks before deleting, and shows the server’s refusals of a deletion and an upload', async () => {
    const { calls } = renderModels();
    await vi.waitFor(() => expect(screen.getAllByTestId('pair')).toHaveLength(2));
    await fireEvent.click(screen.getByRole('button', { name: 'Delete demo…' }));
    const confirm = screen.getByRole('alertdialog', { name: 'Delete demo?' });
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Delete demo for good' }));
    expect((await screen.findByRole('alert')).textContent).toBe('pair "demo" is live: make another pair live before deleting it');
    expect(calls.filter((call) => call.method === 'DELETE').map((call) => call.url)).toEqual(['/api/models/demo']);

    const upload = screen.getByLabelText('Upload a model pair (zip)');
    Object.defineProperty(upload, 'files', { value: [new File(['PK'], 'pair.zip', { type: 'application/zip' })] });
    await fireEvent.change(upload);
    await vi.waitFor(() => expect(screen.getByRole('alert').textContent).toBe('the zip holds no card.json'));
    expect(calls.find((call) => call.url === '/api/models/upload')?.body).toBeInstanceOf(Blob);
  });
});
