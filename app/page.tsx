import { Dashboard } from '../components/dashboard/Dashboard.tsx';

export default function DashboardPage() {
  return <Dashboard />;
}
