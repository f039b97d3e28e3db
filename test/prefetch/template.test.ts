import { describe, expect, it } from 'vitest';
import { CdsError } from '../../src/errors.js';
import { fillTemplate, isSupportedToken, templateTokens } from '../../src/prefetch/index.js';
import { templateProblems } from '../../src/prefetch/template.js';
import { HOOKS } from '../../src/hooks/catalogue.js';

describe('fillTemplate', () => {
  it('fills a context token with the value of that context field', () => {
    expect(fillTemplate('Patient/{{context.patientId}}', { patientId: 'pt-fill-1' })).toBe('Patient/pt-fill-1');
  });

  it('fills every token of a template that has several', () => {
    const url = fillTemplate(
      'Observation?patient={{context.patientId}}&encounter={{context.encounterId}}&code=4548-4',
      {
        patientId: 'pt-fill-2',
        encounterId: 'enc-fill-2',
      },
    );
    expect(url).toBe('Observation?patient=pt-fill-2&encounter=enc-fill-2&code=4548-4');
  });

  it('accepts spaces inside the braces of a token', () => {
    expect(fillTemplate('Patient/{{ context.patientId }}', { patientId: 'pt-fill-3' })).toBe('Patient/pt-fill-3');
  });

  it('fills a numeric context field as its decimal text', () => {
    expect(fillTemplate('Observation?_count={{context.limit}}', { limit: 25 })).toBe('Observation?_count=25');
  });

  it('keeps the slash of {{context.userId}}', () => {
    expect(fillTemplate('{{context.userId}}', { userId: 'PractitionerRole/role-fill-4' })).toBe(
      'PractitionerRole/role-fill-4',
    );
  });

  it('encodes characters other than the slash', () => {
    expect(fillTemplate('Patient?identifier={{context.patientId}}', { patientId: 'a b&c=d?e#f%g+h' })).toBe(
      'Patient?identifier=a%20b%26c%3Dd%3Fe%23f%25g%2Bh',
    );
  });

  it('does not turn an encoded %2F in the value back into a slash', () => {
    expect(fillTemplate('Patient/{{context.patientId}}', { patientId: 'x%2Fy' })).toBe('Patient/x%252Fy');
  });

  it('returns a template without tokens unchanged', () => {
    expect(fillTemplate('Medication?code=http://www.nlm.nih.gov/research/umls/rxnorm|5640', {})).toBe(
      'Medication?code=http://www.nlm.nih.gov/research/umls/rxnorm|5640',
    );
  });

  it('returns undefined when a context field used as a token is absent', () => {
    expect(fillTemplate('Encounter/{{context.encounterId}}', { patientId: 'pt-fill-5' })).toBeUndefined();
  });

  it('returns undefined when one of several tokens has no value', () => {
    expect(
      fillTemplate('Observation?patient={{context.patientId}}&encounter={{context.encounterId}}', {
        patientId: 'pt-fill-6',
      }),
    ).toBeUndefined();
  });

  it('fills {{userPractitionerId}} with the id part of a Practitioner userId', () => {
    expect(fillTemplate('Practitioner/{{userPractitionerId}}', { userId: 'Practitioner/dr-fill-7' })).toBe(
      'Practitioner/dr-fill-7',
    );
  });

  it('fills {{userPractitionerRoleId}} with the id part of a PractitionerRole userId', () => {
    expect(
      fillTemplate('PractitionerRole?_id={{userPractitionerRoleId}}', { userId: 'PractitionerRole/role-fill-8' }),
    ).toBe('PractitionerRole?_id=role-fill-8');
  });

  it('fills {{userPatientId}} with the id part of a Patient userId', () => {
    expect(fillTemplate('Patient/{{userPatientId}}', { userId: 'Patient/pt-fill-9' })).toBe('Patient/pt-fill-9');
  });

  it('fills {{userRelatedPersonId}} with the id part of a RelatedPerson userId', () => {
    expect(fillTemplate('RelatedPerson/{{userRelatedPersonId}}', { userId: 'RelatedPerson/rp-fill-10' })).toBe(
      'RelatedPerson/rp-fill-10',
    );
  });

  it('returns undefined for {{userPractitionerRoleId}} when the user is a Practitioner', () => {
    expect(
      fillTemplate('PractitionerRole?_id={{userPractitionerRoleId}}', { userId: 'Practitioner/dr-fill-11' }),
    ).toBeUndefined();
  });

  it('returns undefined for {{userPractitionerId}} when the user is a PractitionerRole', () => {
    expect(
      fillTemplate('Practitioner/{{userPractitionerId}}', { userId: 'PractitionerRole/role-fill-12' }),
    ).toBeUndefined();
  });

  it('returns undefined for a user token when the context has no userId', () => {
    expect(fillTemplate('Patient/{{userPatientId}}', { patientId: 'pt-fill-13' })).toBeUndefined();
  });

  it('throws a 500 CdsError for a token naming a context field that is not a primitive', () => {
    let caught: unknown;
    try {
      fillTemplate('Bundle/{{context.draftOrders}}', { draftOrders: { resourceType: 'Bundle', type: 'collection' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CdsError);
    expect((caught as CdsError).status).toBe(500);
    expect((caught as CdsError).message).toContain('context.draftOrders');
  });

  it('throws a 500 CdsError for a token that is not a CDS Hooks 2.0 token', () => {
    let caught: unknown;
    try {
      fillTemplate('Patient/{{Patient.id}}', { patientId: 'pt-fill-14' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CdsError);
    expect((caught as CdsError).status).toBe(500);
    expect((caught as CdsError).message).toContain('Patient.id');
  });
});

describe('templateTokens', () => {
  it('lists the tokens of a template in order, without braces or spaces', () => {
    expect(templateTokens('Observation?patient={{ context.patientId }}&performer={{userPractitionerId}}')).toEqual([
      'context.patientId',
      'userPractitionerId',
    ]);
  });

  it('lists nothing for a template without tokens', () => {
    expect(templateTokens('Medication?code=5640')).toEqual([]);
  });
});

describe('isSupportedToken', () => {
  it.each([
    'context.patientId',
    'context.encounterId',
    'context.userId',
    'userPractitionerId',
    'userPractitionerRoleId',
    'userPatientId',
    'userRelatedPersonId',
  ])('accepts %s', (token) => {
    expect(isSupportedToken(token)).toBe(true);
  });

  it.each([
    'context.medication.id',
    'Patient.id',
    'user',
    'context.',
    'today() - 90 days',
    '%encounter.id',
    'userOrganizationId',
  ])('rejects %s', (token) => {
    expect(isSupportedToken(token)).toBe(false);
  });
});

describe('templateProblems', () => {
  const check = (template: string, hook: string) =>
    templateProblems(template, hook, HOOKS[hook].prefetchTokens, HOOKS[hook].userTypes);

  it('accepts the context tokens and the user tokens a hook can fill', () => {
    expect(check('Observation?patient={{context.patientId}}&encounter={{context.encounterId}}', 'order-sign')).toEqual(
      [],
    );
    expect(check('PractitionerRole/{{userPractitionerRoleId}}', 'order-sign')).toEqual([]);
    expect(check('Patient/{{userPatientId}}', 'patient-view')).toEqual([]);
    expect(check('Practitioner/{{context.performer}}', 'order-dispatch')).toEqual([]);
  });

  it('refuses user tokens the hook cannot fill: no userId, or a userId that cannot name that type', () => {
    expect(check('Practitioner/{{userPractitionerId}}', 'order-dispatch')).toEqual([
      "{{userPractitionerId}} is not a prefetch token of hook 'order-dispatch' (it has {{context.patientId}}, {{context.performer}})",
    ]);
    expect(check('Patient/{{userPatientId}}', 'order-sign')).toEqual([
      "{{userPatientId}} is not a prefetch token of hook 'order-sign' (it has {{context.userId}}, {{context.patientId}}, {{context.encounterId}}, {{userPractitionerId}}, {{userPractitionerRoleId}})",
    ]);
  });
});
