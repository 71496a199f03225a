import { NoSuchLevel } from '../../../components/walkthrough/NoSuchLevel.tsx';

export default function LevelNotFound() {
  return <NoSuchLevel />;
}
