import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cardProblems, renderCard, type Card } from '../../src/cards/index.js';

const officialCards = (
  JSON.parse(
    readFileSync(new URL('./examples/response-cards-links-overridereasons.json', import.meta.url), 'utf8'),
  ) as { cards: Card[] }
).cards;

/** A small valid card; `tag` keeps the data of each test distinct. Fields may be overridden with invalid values. */
function card(tag: string, fields: Record<string, unknown> = {}): Card {
  return {
    summary: `Check renal dosing (${tag})`,
    indicator: 'warning',
    source: { label: `Pharmacy rules ${tag}` },
    ...fields,
  } as unknown as Card;
}

function suggestion(tag: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    label: `Replace the order (${tag})`,
    actions: [{ type: 'delete', description: `Remove draft ${tag}`, resourceId: `MedicationRequest/mr-${tag}` }],
    ...fields,
  };
}

function onlyProblem(c: Card): string {
  const problems = cardProblems(c);
  expect(problems).toHaveLength(1);
  return problems[0];
}

describe('cardProblems: valid cards', () => {
  it('finds no problem in the first card of the official response example', () => {
    expect(cardProblems(officialCards[0])).toEqual([]);
  });

  it('finds no problem in the second card of the official response example, which has override reasons', () => {
    expect(cardProblems(officialCards[1])).toEqual([]);
  });

  it('finds no problem in a card with only the required fields', () => {
    expect(cardProblems(card('minimal'))).toEqual([]);
  });

  it('finds no problem in a card with suggestions of every action type', () => {
    const c = card('all-actions', {
      selectionBehavior: 'any',
      suggestions: [
        suggestion('all-actions-delete'),
        {
          label: 'Order a creatinine',
          isRecommended: true,
          actions: [
            {
              type: 'create',
              description: 'Order serum creatinine',
              resource: { resourceType: 'ServiceRequest', status: 'draft', intent: 'order' },
            },
          ],
        },
        {
          label: 'Lower the dose',
          isRecommended: true,
          actions: [
            {
              type: 'update',
              description: 'Halve the dose',
              resource: { resourceType: 'MedicationRequest', id: 'mr-all-actions', status: 'draft' },
            },
          ],
        },
      ],
    });

    expect(cardProblems(c)).toEqual([]);
  });

  it('accepts a summary of 139 characters', () => {
    expect(cardProblems(card('s139', { summary: 'x'.repeat(139) }))).toEqual([]);
  });

  it('counts the summary in characters, so 139 characters outside the BMP are accepted', () => {
    expect(cardProblems(card('s139-astral', { summary: '\u{1F48A}'.repeat(139) }))).toEqual([]);
  });

  it.each(['info', 'warning', 'critical'])('accepts the indicator %s', (indicator) => {
    expect(cardProblems(card(`indicator-${indicator}`, { indicator }))).toEqual([]);
  });

  it('accepts one recommended suggestion with at-most-one', () => {
    const c = card('one-recommended', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        suggestion('one-recommended-a', { isRecommended: true }),
        suggestion('one-recommended-b', { isRecommended: false }),
      ],
    });

    expect(cardProblems(c)).toEqual([]);
  });

  it('accepts two recommended suggestions with any', () => {
    const c = card('two-any', {
      selectionBehavior: 'any',
      suggestions: [suggestion('two-any-a', { isRecommended: true }), suggestion('two-any-b', { isRecommended: true })],
    });

    expect(cardProblems(c)).toEqual([]);
  });

  it('accepts appContext on a smart link', () => {
    const c = card('smart-ok', {
      links: [
        { label: 'Dosing app', url: 'https://app.smart-ok.example/launch', type: 'smart', appContext: 'drug=5640' },
      ],
    });

    expect(cardProblems(c)).toEqual([]);
  });

  it('accepts a suggestion without actions', () => {
    const c = card('no-actions', {
      selectionBehavior: 'at-most-one',
      suggestions: [{ label: 'Discuss with pharmacy' }],
    });

    expect(cardProblems(c)).toEqual([]);
  });

  it('does not apply the empty-value rule inside a FHIR resource of an action', () => {
    const c = card('resource-inside', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        {
          label: 'Order a test',
          actions: [
            {
              type: 'create',
              description: 'Create the order',
              resource: { resourceType: 'ServiceRequest', note: [], code: { text: '' } },
            },
          ],
        },
      ],
    });

    expect(cardProblems(c)).toEqual([]);
  });
});

describe('cardProblems: each rule on its own', () => {
  it('reports a summary of 140 characters', () => {
    expect(onlyProblem(card('s140', { summary: 'y'.repeat(140) }))).toMatch(/summary.*140/);
  });

  it('reports a missing summary', () => {
    const c = card('no-summary');
    delete (c as Partial<Card>).summary;

    expect(onlyProblem(c)).toMatch(/summary/);
  });

  it.each(['hard-stop', 'success', 'Warning'])("reports the indicator '%s', which is outside the enum", (indicator) => {
    expect(onlyProblem(card(`bad-${indicator}`, { indicator }))).toContain(indicator);
  });

  it('reports a source without a label', () => {
    expect(onlyProblem(card('no-label', { source: { url: 'https://no-label.example/about' } }))).toMatch(
      /source\.label/,
    );
  });

  it('reports a source url or icon that is not an absolute URL', () => {
    expect(
      cardProblems(card('relative', { source: { label: 'Local', url: '/guidelines/nsaid', icon: 'icon.png' } })),
    ).toEqual(['source.url must be an absolute http(s) URL', 'source.icon must be an absolute http(s) URL']);
  });

  it('reports a card without a source', () => {
    const c = card('no-source');
    delete (c as Partial<Card>).source;

    expect(onlyProblem(c)).toMatch(/source\.label/);
  });

  it('reports suggestions without selectionBehavior', () => {
    expect(onlyProblem(card('no-behaviour', { suggestions: [suggestion('no-behaviour')] }))).toMatch(
      /selectionBehavior/,
    );
  });

  it('reports a selectionBehavior outside the enum', () => {
    expect(
      onlyProblem(card('bad-behaviour', { selectionBehavior: 'all', suggestions: [suggestion('bad-behaviour')] })),
    ).toMatch(/selectionBehavior/);
  });

  it('reports selectionBehavior without suggestions', () => {
    expect(onlyProblem(card('behaviour-alone', { selectionBehavior: 'at-most-one' }))).toMatch(/selectionBehavior/);
  });

  it('reports two recommended suggestions with at-most-one', () => {
    const c = card('two-recommended', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        suggestion('two-recommended-a', { isRecommended: true }),
        suggestion('two-recommended-b', { isRecommended: true }),
      ],
    });

    expect(onlyProblem(c)).toMatch(/recommended/);
  });

  it('reports a suggestion without a label', () => {
    const s = suggestion('no-suggestion-label');
    delete s.label;

    expect(onlyProblem(card('no-suggestion-label', { selectionBehavior: 'any', suggestions: [s] }))).toMatch(
      /suggestions\[0\]\.label/,
    );
  });

  it('reports an action without a description', () => {
    const c = card('no-description', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        { label: 'Remove it', actions: [{ type: 'delete', resourceId: 'MedicationRequest/mr-no-description' }] },
      ],
    });

    expect(onlyProblem(c)).toMatch(/suggestions\[0\]\.actions\[0\]\.description/);
  });

  it('reports an action type outside the enum', () => {
    const c = card('bad-action-type', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        {
          label: 'Patch it',
          actions: [
            { type: 'patch', description: 'Patch the order', resourceId: 'MedicationRequest/mr-bad-action-type' },
          ],
        },
      ],
    });

    expect(onlyProblem(c)).toContain("'patch'");
  });

  it('reports a create action without a resource', () => {
    const c = card('create-nothing', {
      selectionBehavior: 'at-most-one',
      suggestions: [{ label: 'Order a test', actions: [{ type: 'create', description: 'Create the order' }] }],
    });

    expect(onlyProblem(c)).toMatch(/create.*resource/);
  });

  it('reports an update action without a resource', () => {
    const c = card('update-nothing', {
      selectionBehavior: 'at-most-one',
      suggestions: [{ label: 'Change the dose', actions: [{ type: 'update', description: 'Update the order' }] }],
    });

    expect(onlyProblem(c)).toMatch(/update.*resource/);
  });

  it('reports a delete action without a resourceId', () => {
    const c = card('delete-nothing', {
      selectionBehavior: 'at-most-one',
      suggestions: [{ label: 'Remove it', actions: [{ type: 'delete', description: 'Remove the draft' }] }],
    });

    expect(onlyProblem(c)).toMatch(/delete.*resourceId/);
  });

  it('reports a delete action whose resourceId is a bare id', () => {
    const c = card('delete-bare', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        {
          label: 'Remove it',
          actions: [{ type: 'delete', description: 'Remove the draft', resourceId: 'mr-delete-bare' }],
        },
      ],
    });

    expect(onlyProblem(c)).toMatch(/resourceId/);
  });

  it('reports an override reason without a display', () => {
    const c = card('reason-no-display', {
      overrideReasons: [{ system: 'http://example.org/override', code: 'reason-no-display' }],
    });

    expect(onlyProblem(c)).toMatch(/overrideReasons\[0\].*display/);
  });

  it('reports appContext on an absolute link', () => {
    const c = card('abs-appcontext', {
      links: [
        { label: 'Guideline', url: 'https://abs-appcontext.example/g', type: 'absolute', appContext: 'section=4' },
      ],
    });

    expect(onlyProblem(c)).toMatch(/links\[0\]\.appContext/);
  });

  it('reports a link url that is not absolute', () => {
    const c = card('relative-url', {
      links: [{ label: 'Guideline', url: '/guidelines/relative-url', type: 'absolute' }],
    });

    expect(onlyProblem(c)).toMatch(/links\[0\]\.url/);
  });

  it('reports a link type outside the enum', () => {
    const c = card('link-type', {
      links: [{ label: 'Guideline', url: 'https://link-type.example/g', type: 'relative' }],
    });

    expect(onlyProblem(c)).toMatch(/links\[0\]\.type/);
  });

  it('reports a link without a label', () => {
    const c = card('link-no-label', { links: [{ url: 'https://link-no-label.example/g', type: 'absolute' }] });

    expect(onlyProblem(c)).toMatch(/links\[0\].*label/);
  });

  it('reports a null value, naming where it is', () => {
    expect(onlyProblem(card('null-detail', { detail: null }))).toMatch(/null or empty.*detail/);
  });

  it('reports a null value nested in the source', () => {
    expect(onlyProblem(card('null-icon', { source: { label: 'Pharmacy null-icon', icon: null } }))).toMatch(
      /source\.icon/,
    );
  });

  it('reports an empty string, naming where it is', () => {
    expect(onlyProblem(card('empty-detail', { detail: '' }))).toMatch(/null or empty.*detail/);
  });

  it('reports an empty array, naming where it is', () => {
    expect(onlyProblem(card('empty-links', { links: [] }))).toMatch(/null or empty.*links/);
  });

  it('reports an empty object, naming where it is', () => {
    expect(onlyProblem(card('empty-extension', { extension: {} }))).toMatch(/null or empty.*extension/);
  });

  it('lists every null or empty value in one problem', () => {
    const problem = onlyProblem(card('two-empties', { detail: '', overrideReasons: [] }));

    expect(problem).toContain('detail');
    expect(problem).toContain('overrideReasons');
  });
});

describe('cardProblems: several rules at once', () => {
  it('reports every broken rule of a card', () => {
    const c = card('many', {
      summary: 'z'.repeat(200),
      indicator: 'hard-stop',
      source: { url: 'https://many.example' },
      selectionBehavior: 'at-most-one',
    });

    const problems = cardProblems(c);

    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/summary/);
    expect(problems.join('\n')).toMatch(/hard-stop/);
    expect(problems.join('\n')).toMatch(/source\.label/);
    expect(problems.join('\n')).toMatch(/selectionBehavior/);
  });
});

describe('cardProblems: the type of each field, whatever a placeholder rendered', () => {
  it('finds no problem in a source topic Coding without a display', () => {
    const topic = { system: 'https://topics.example/cs', code: 'renal-topic' };
    expect(cardProblems(card('topic', { source: { label: 'Topic source', topic } }))).toEqual([]);
  });

  it('reports a detail that is not a string, as a solo placeholder over a Quantity renders it', () => {
    const facts = { egfr: { value: 25, unit: 'mL/min/1.73m2' } };
    const rendered = renderCard(
      { summary: 'Low eGFR (detail-object)', detail: '{{egfr}}', indicator: 'warning', source: { label: 'Renal' } },
      facts,
      { 'org.example.k': { rule: 'detail-object' } },
    );
    expect(onlyProblem(rendered)).toMatch(/detail must be a string/);
  });

  it('reports a source url or icon that is not a string', () => {
    expect(
      cardProblems(card('url-object', { source: { label: 'Objects', url: { href: 'https://a.example' }, icon: 7 } })),
    ).toEqual(['source.url must be an absolute http(s) URL', 'source.icon must be an absolute http(s) URL']);
  });

  it.each([
    ['without a system', { code: 'no-system' }],
    ['without a code', { system: 'https://topics.example/cs' }],
    ['with a code that is not a string', { system: 'https://topics.example/cs', code: { value: 1 } }],
    ['with a display that is not a string', { system: 'https://topics.example/cs', code: 'x', display: 3 }],
  ])('reports a source topic %s', (tag, topic) => {
    expect(onlyProblem(card(`topic ${tag}`, { source: { label: `Topic ${tag}`, topic } }))).toMatch(/source\.topic/);
  });

  it('reports an isRecommended that is not a boolean', () => {
    const c = card('rec-text', {
      selectionBehavior: 'any',
      suggestions: [suggestion('rec-text', { isRecommended: 'yes' })],
    });
    expect(onlyProblem(c)).toMatch(/suggestions\[0\]\.isRecommended/);
  });

  it('reports an appContext that is not a string and an autolaunchable that is not a boolean', () => {
    const c = card('link-types', {
      links: [
        { label: 'App', url: 'https://app.example/launch', type: 'smart', appContext: { session: 3 } },
        { label: 'App 2', url: 'https://app.example/launch2', type: 'smart', autolaunchable: 'true' },
      ],
    });
    expect(cardProblems(c)).toEqual([
      'links[0].appContext must be a string',
      'links[1].autolaunchable must be true or false',
    ]);
  });
});
