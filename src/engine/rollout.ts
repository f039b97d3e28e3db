// Which version of a service's rule set answers a call: the live one, or the arm of a running
// experiment the call's unit is assigned to. Assignment itself (a keyed hash) and the stored stops
// come from outside the engine, so that every instance sharing a database decides the same.
import type { Experiment, ExperimentArm, ExperimentUnit, RuleSet, Service } from '../knowledge/index.js';
import type { HookRequest } from '../hooks/index.js';
import type { Disposition, ExperimentAssignment } from './outcome.js';

export interface RolloutControl {
  /** The arm a unit is assigned to: the same unit always gets the same arm (shares follow the weights). */
  assign(experiment: Experiment, unitId: string): ExperimentArm;
  /**
   * Whether the experiment has been stopped (on any instance sharing the database); 'unknown' while
   * the stored stops could not be read: no call is randomised then, since a stopped arm may be harmful.
   */
  isStopped(experimentId: string): boolean | 'unknown';
}

/** The calling client as the server trusts it (a site, for experiments randomised by client). */
export interface CallingClient {
  iss?: string;
  tenant?: string;
}

export interface VersionChoice {
  ruleSet: RuleSet;
  disposition: Extract<Disposition, 'shown' | 'suppressed'>;
  experiment?: ExperimentAssignment;
}

/** The version that answers this call and, when the service has an experiment, whether the call is in it. */
export function chooseVersion(
  service: Service,
  request: HookRequest,
  now: Date,
  client: CallingClient | undefined,
  control: RolloutControl | undefined,
): VersionChoice {
  const live: VersionChoice = { ruleSet: service.ruleSet, disposition: 'shown' };
  const experiment = service.rollout?.experiment;
  // Without a control (no ledger to record it, or a command-line evaluation) no call is randomised.
  if (!experiment || !control) return live;
  const notIn = (reason: NonNullable<ExperimentAssignment['reason']>): VersionChoice => ({
    ...live,
    experiment: { id: experiment.id, reason },
  });
  if (experiment.start && now < experiment.start) return notIn('not-started');
  if (experiment.end && now >= experiment.end) return notIn('ended');
  const stopped = control.isStopped(experiment.id);
  if (stopped === 'unknown') return notIn('stops-unknown');
  if (stopped) return notIn('stopped');
  const unitId = unitIdOf(experiment.unit, request, client);
  if (unitId === undefined) return notIn('no-unit');
  const arm = control.assign(experiment, unitId);
  return {
    ruleSet: arm.ruleSet,
    disposition: arm.show ? 'shown' : 'suppressed',
    experiment: { id: experiment.id, arm: arm.name, unit: { kind: experiment.unit, id: unitId } },
  };
}

/** The id a call's unit has: the patient, the user, the encounter, or the site (issuer and tenant). */
export function unitIdOf(
  unit: ExperimentUnit,
  request: HookRequest,
  client: CallingClient | undefined,
): string | undefined {
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  switch (unit) {
    case 'patient':
      return text(request.context.patientId);
    case 'practitioner':
      return text(request.context.userId);
    case 'encounter':
      return text(request.context.encounterId);
    case 'client':
      return client?.iss ? `${client.iss}\n${client.tenant ?? ''}` : undefined;
  }
}
