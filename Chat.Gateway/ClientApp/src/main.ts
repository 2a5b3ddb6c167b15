import './styles.css';
import { start } from './app.js';

start();
