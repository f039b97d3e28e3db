export { cardProblems, actionProblems, systemActionProblems } from './validate-card.js';
export { renderCard, renderSystemAction, asText, TemplateError } from './render.js';
export {
  parsePath,
  resolvePath,
  placeholdersIn,
  replacePlaceholders,
  soloPlaceholder,
  stringsIn,
  type PathSegment,
} from './template-path.js';
export {
  KNOWLEDGE_EXTENSION,
  type Card,
  type CdsResponse,
  type Suggestion,
  type Action,
  type ActionTemplate,
  type Link,
  type CardTemplate,
  type Coding,
} from './types.js';
