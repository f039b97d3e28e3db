import { describe, expect, it } from 'vitest';
import { asText, cardProblems, KNOWLEDGE_EXTENSION, renderCard, TemplateError } from '../../src/cards/index.js';
import type { CardTemplate } from '../../src/knowledge/types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function template(tag: string, fields: Partial<CardTemplate> = {}): CardTemplate {
  return { summary: `Plain summary ${tag}`, indicator: 'info', source: { label: `Source ${tag}` }, ...fields };
}

function extension(tag: string): Record<string, unknown> {
  return {
    [KNOWLEDGE_EXTENSION]: {
      service: `svc-${tag}`,
      ruleSet: `rs-${tag}`,
      version: '1.0.0',
      rule: `rule-${tag}`,
      cql: [{ library: `Lib${tag}`, version: '1.0.0' }],
    },
  };
}

function templateError(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    return err as TemplateError;
  }
  return expect.fail('expected a TemplateError');
}

describe('renderCard', () => {
  it('fills placeholders in strings from the facts', () => {
    const facts = {
      cql: { 'Latest eGFR': { value: 27, unit: 'mL/min/1.73m2' } },
      context: { patientId: 'pt-fill-card' },
    };
    const t = template('fill', {
      summary: "eGFR {{cql['Latest eGFR']}} for {{context.patientId}}",
      detail: 'Value {{cql[\'Latest eGFR\'].value}} in {{ cql["Latest eGFR"].unit }}',
    });

    const card = renderCard(t, facts, extension('fill'));

    expect(card.summary).toBe('eGFR 27 mL/min/1.73m2 for pt-fill-card');
    expect(card.detail).toBe('Value 27 in mL/min/1.73m2');
  });

  it('fills placeholders with an index in the path', () => {
    const facts = { cql: { Drugs: [{ text: 'Ibuprofen 400 mg' }, { text: 'Naproxen 250 mg' }] } };

    const card = renderCard(
      template('index', { summary: 'Second drug: {{cql.Drugs[1].text}}' }),
      facts,
      extension('index'),
    );

    expect(card.summary).toBe('Second drug: Naproxen 250 mg');
  });

  it('fills placeholders inside suggestions, actions and links', () => {
    const facts = {
      item: { id: 'mr-nested-fill', medicationCodeableConcept: { text: 'Diclofenac 50 mg' } },
      context: { patientId: 'pt-nested-fill' },
    };
    const t = template('nested', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        {
          label: 'Remove {{item.medicationCodeableConcept}}',
          actions: [
            {
              type: 'delete',
              description: 'Remove {{item.medicationCodeableConcept.text}}',
              resourceId: 'MedicationRequest/{{item.id}}',
            },
          ],
        },
      ],
      links: [{ label: 'Chart', url: 'https://chart.nested.example/patients/{{context.patientId}}', type: 'absolute' }],
    });

    const card = renderCard(t, facts, extension('nested'));

    expect(card.suggestions?.[0].label).toBe('Remove Diclofenac 50 mg');
    expect(card.suggestions?.[0].actions?.[0]).toEqual({
      type: 'delete',
      description: 'Remove Diclofenac 50 mg',
      resourceId: 'MedicationRequest/mr-nested-fill',
    });
    expect(card.links?.[0].url).toBe('https://chart.nested.example/patients/pt-nested-fill');
  });

  it('keeps strings without placeholders and non-string values as they are', () => {
    const t = template('as-is', {
      detail: 'No placeholders here: { single braces }',
      selectionBehavior: 'any',
      suggestions: [{ label: 'Keep', isRecommended: true }],
      links: [{ label: 'App', url: 'https://as-is.example/launch', type: 'smart', autolaunchable: false }],
    });

    const card = renderCard(t, {}, extension('as-is'));

    expect(card.detail).toBe('No placeholders here: { single braces }');
    expect(card.suggestions?.[0].isRecommended).toBe(true);
    expect(card.links?.[0].autolaunchable).toBe(false);
  });

  it('embeds the object of a placeholder that is the whole string', () => {
    const resource = {
      resourceType: 'ServiceRequest',
      status: 'draft',
      intent: 'order',
      code: { text: 'Serum creatinine (solo)' },
    };
    const t = template('solo', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        {
          label: 'Order creatinine',
          actions: [{ type: 'create', description: 'Order it', resource: '{{cql.Proposed}}' }],
        },
      ],
    });

    const card = renderCard(t, { cql: { Proposed: resource } }, extension('solo'));

    expect(card.suggestions?.[0].actions?.[0].resource).toEqual(resource);
    expect(card.suggestions?.[0].actions?.[0].resource).not.toBe(resource);
  });

  it('copies an embedded object deeply, so changing the card does not change the facts', () => {
    const resource = { resourceType: 'MedicationRequest', id: 'mr-deep', dosageInstruction: [{ text: '400 mg tid' }] };
    const facts = { item: resource };
    const t = template('deep', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        { label: 'Lower the dose', actions: [{ type: 'update', description: 'Lower it', resource: '{{item}}' }] },
      ],
    });

    const card = renderCard(t, facts, extension('deep'));
    const embedded = card.suggestions?.[0].actions?.[0].resource as { dosageInstruction: Array<{ text: string }> };
    embedded.dosageInstruction[0].text = '200 mg tid';
    embedded.dosageInstruction.push({ text: 'changed' });

    expect(resource.dosageInstruction).toEqual([{ text: '400 mg tid' }]);
  });

  it('gives the text of a number, not the number, for a placeholder that is the whole string', () => {
    const card = renderCard(
      template('solo-number', { detail: '{{cql.Score}}' }),
      { cql: { Score: 7 } },
      extension('solo-number'),
    );

    expect(card.detail).toBe('7');
  });

  it('does not change the template', () => {
    const t = template('unchanged', {
      summary: 'Drug {{item.name}}',
      selectionBehavior: 'at-most-one',
      suggestions: [
        {
          label: 'Stop {{item.name}}',
          actions: [
            {
              type: 'create',
              description: 'Create',
              resource: { resourceType: 'Task', status: 'draft', intent: 'order' },
            },
          ],
        },
      ],
    });
    const before = structuredClone(t);

    const card = renderCard(t, { item: { name: 'Ketorolac' } }, extension('unchanged'));
    (card.suggestions?.[0].actions?.[0].resource as { status: string }).status = 'cancelled';

    expect(t).toEqual(before);
  });

  it('throws a TemplateError naming a placeholder that has no value', () => {
    const t = template('missing', { summary: "eGFR is {{cql['Latest eGFR'].value}}" });

    const err = templateError(() => renderCard(t, { cql: {} }, extension('missing')));

    expect(err.expression).toBe("cql['Latest eGFR'].value");
    expect(err.message).toContain("cql['Latest eGFR'].value");
  });

  it('throws a TemplateError for a placeholder whose value is null', () => {
    const err = templateError(() =>
      renderCard(
        template('null-fact', { detail: 'Last dose {{cql.LastDose}}' }),
        { cql: { LastDose: null } },
        extension('null-fact'),
      ),
    );

    expect(err.expression).toBe('cql.LastDose');
  });

  it('throws a TemplateError for a solo placeholder that has no value', () => {
    const t = template('solo-missing', {
      selectionBehavior: 'at-most-one',
      suggestions: [
        { label: 'Order', actions: [{ type: 'create', description: 'Order it', resource: '{{cql.NotThere}}' }] },
      ],
    });

    const err = templateError(() => renderCard(t, { cql: {} }, extension('solo-missing')));

    expect(err.expression).toBe('cql.NotThere');
  });

  it('throws a TemplateError for a placeholder that is not a valid path', () => {
    const err = templateError(() =>
      renderCard(template('bad-path', { summary: 'Broken {{cql..x}}' }), { cql: { x: 1 } }, extension('bad-path')),
    );

    expect(err.expression).toBe('cql..x');
  });

  it('gives the card and each suggestion its own uuid', () => {
    const t = template('uuids', {
      selectionBehavior: 'any',
      suggestions: [{ label: 'First' }, { label: 'Second' }, { label: 'Third' }],
    });

    const card = renderCard(t, {}, extension('uuids'));
    const ids = [card.uuid, ...(card.suggestions ?? []).map((s) => s.uuid)];

    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(4);
  });

  it('gives new uuids on every render of the same template', () => {
    const t = template('rerender', { selectionBehavior: 'at-most-one', suggestions: [{ label: 'Only' }] });

    const first = renderCard(t, {}, extension('rerender'));
    const second = renderCard(t, {}, extension('rerender'));

    expect(second.uuid).not.toBe(first.uuid);
    expect(second.suggestions?.[0].uuid).not.toBe(first.suggestions?.[0].uuid);
  });

  it('attaches the extension to the card', () => {
    const ext = extension('attached');

    const card = renderCard(template('attached'), {}, ext);

    expect(card.extension).toEqual(ext);
  });

  it('renders a template into a card without problems', () => {
    const facts = {
      cql: { 'Latest eGFR': { value: 24, unit: 'mL/min' } },
      item: { id: 'mr-valid-render', medicationCodeableConcept: { text: 'Ibuprofen 600 mg' } },
    };
    const t = template('valid-render', {
      summary: "NSAID ordered with eGFR {{cql['Latest eGFR']}}",
      indicator: 'warning',
      selectionBehavior: 'at-most-one',
      suggestions: [
        {
          label: 'Remove {{item.medicationCodeableConcept}}',
          isRecommended: true,
          actions: [
            { type: 'delete', description: 'Remove the draft NSAID', resourceId: 'MedicationRequest/{{item.id}}' },
          ],
        },
      ],
      overrideReasons: [
        {
          system: 'http://example.org/override-reason',
          code: 'benefit-outweighs-risk',
          display: 'Benefit outweighs risk',
        },
      ],
    });

    const card = renderCard(t, facts, extension('valid-render'));

    expect(cardProblems(card)).toEqual([]);
  });
});

describe('asText', () => {
  it('shows a quantity with its unit', () => {
    expect(asText('q1', { value: 25, unit: 'mL/min' })).toBe('25 mL/min');
  });

  it("shows a quantity whose unit is '1' without the unit", () => {
    expect(asText('q2', { value: 3, unit: '1' })).toBe('3');
  });

  it('shows a decimal quantity without float noise', () => {
    expect(asText('q3', { value: 0.1 + 0.2, unit: 'mg/dL' })).toBe('0.3 mg/dL');
  });

  // A FHIR Quantity may carry its UCUM unit in `code` only (`unit` is optional), and placeholders can
  // name FHIR elements (e.g. {{item.valueQuantity}}).
  it('shows a FHIR Quantity that has a code but no unit with its value', () => {
    expect(asText('q4', { value: 25, system: 'http://unitsofmeasure.org', code: 'mL/min' })).toBe('25 mL/min');
  });

  // Quantity.comparator is a FHIR modifier element: "<5 mg/L" and "5 mg/L" mean different things.
  it('keeps the comparator of a FHIR Quantity', () => {
    expect(
      asText('q5', { value: 5, comparator: '<', unit: 'mg/L', system: 'http://unitsofmeasure.org', code: 'mg/L' }),
    ).toMatch(/^<\s?5 mg\/L$/);
  });

  it('shows a Coding by its display', () => {
    expect(
      asText('c1', { system: 'http://snomed.info/sct', code: '431855005', display: 'Chronic kidney disease stage 1' }),
    ).toBe('Chronic kidney disease stage 1');
  });

  it('shows a Coding without display by its code', () => {
    expect(asText('c2', { system: 'http://loinc.org', code: '33914-3' })).toBe('33914-3');
  });

  it('shows a CodeableConcept by its text', () => {
    expect(
      asText('cc1', {
        text: 'Ibuprofen 400 mg tablet',
        coding: [
          {
            system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
            code: '197806',
            display: 'ibuprofen 400 MG Oral Tablet',
          },
        ],
      }),
    ).toBe('Ibuprofen 400 mg tablet');
  });

  it('shows a CodeableConcept without text by the display of its first coding', () => {
    expect(
      asText('cc2', {
        coding: [
          { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '5640', display: 'Ibuprofen' },
          { system: 'http://example.org/local', code: 'IBU', display: 'Ibu (local)' },
        ],
      }),
    ).toBe('Ibuprofen');
  });

  it('shows a CodeableConcept whose first coding has no display by its code', () => {
    expect(asText('cc3', { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '7258' }] })).toBe(
      '7258',
    );
  });

  it('shows a CQL Concept by its display', () => {
    expect(
      asText('k1', {
        codes: [{ code: '5640', system: 'http://www.nlm.nih.gov/research/umls/rxnorm', display: 'Ibuprofen' }],
        display: 'NSAID: ibuprofen',
      }),
    ).toBe('NSAID: ibuprofen');
  });

  // docs/knowledge-format.md: a CQL Concept becomes { "codes": [...], "display" }; without a display of
  // its own (common: FHIRHelpers takes it from CodeableConcept.text) it shows its first code.
  it('shows a CQL Concept without display by the display of its first code', () => {
    expect(
      asText('k2', {
        codes: [{ code: '7258', system: 'http://www.nlm.nih.gov/research/umls/rxnorm', display: 'Naproxen' }],
      }),
    ).toBe('Naproxen');
  });

  it('shows a Reference by its reference', () => {
    expect(asText('r1', { reference: 'Practitioner/dr-as-text' })).toBe('Practitioner/dr-as-text');
  });

  it('shows a string as it is', () => {
    expect(asText('s1', 'Acute kidney injury risk')).toBe('Acute kidney injury risk');
  });

  it.each([
    [42, '42'],
    [-7, '-7'],
    [0, '0'],
    [0.1 + 0.2, '0.3'],
    [1.1 * 3, '3.3'],
    [2.5, '2.5'],
    [-0.75, '-0.75'],
    [1234.56789, '1234.56789'],
  ])('shows the number %s as %s', (value, text) => {
    expect(asText('n', value)).toBe(text);
  });

  it('shows true as yes', () => {
    expect(asText('b1', true)).toBe('yes');
  });

  it('shows false as no', () => {
    expect(asText('b2', false)).toBe('no');
  });

  it('joins a list of strings with a comma and a space', () => {
    expect(asText('l1', ['Ibuprofen', 'Naproxen', 'Diclofenac'])).toBe('Ibuprofen, Naproxen, Diclofenac');
  });

  it('joins a list of mixed values, each shown as text', () => {
    expect(
      asText('l2', [
        { value: 12.5, unit: 'mg' },
        { system: 'http://loinc.org', code: '2160-0', display: 'Creatinine' },
        3,
        false,
      ]),
    ).toBe('12.5 mg, Creatinine, 3, no');
  });

  it('throws a TemplateError naming the placeholder for null', () => {
    const err = templateError(() => asText('cql.Nothing', null));

    expect(err.expression).toBe('cql.Nothing');
    expect(err.message).toContain('cql.Nothing');
  });

  it('throws a TemplateError naming the placeholder for undefined', () => {
    expect(templateError(() => asText('cql.Undefined', undefined)).expression).toBe('cql.Undefined');
  });

  it('throws a TemplateError for an object that has no text form', () => {
    const err = templateError(() => asText('cql.Interval', { low: 1, high: 5, lowClosed: true, highClosed: false }));

    expect(err.expression).toBe('cql.Interval');
    expect(err.message).toContain('cql.Interval');
  });

  it('throws a TemplateError for a list with a null element', () => {
    expect(templateError(() => asText('cql.Sparse', ['a', null])).expression).toBe('cql.Sparse');
  });
});
